-- collect_flush: force a task's collect buffer out now (TestRunner.flush): its pending flush job goes and
-- job ARGV[3] takes every buffered item, waiting, as a max_size flush would make it.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] collect key, ARGV[5] _v, ARGV[6] maxAttempts
-- Returns the number of items flushed into job ARGV[3]; 0 (and no job) when the buffer is empty.
--@include lib/queue
--@include lib/collect

local items_key, meta_key, flush_key = collect_keys(ARGV[4])
local count = redis.call('LLEN', items_key)
if count == 0 then
  return 0
end
collect_drop_flush(flush_key)
collect_flush_now(ARGV[3], items_key, meta_key, flush_key, ARGV[5], ARGV[6])
return count
