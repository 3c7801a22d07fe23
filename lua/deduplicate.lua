-- deduplicate: create the job unless a job holding the same dedup key is in one of the blocking
-- states; the key then names the new job until it ends (lib/dedup.lua releases it).
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] dedup key (`<prefix>dedup:<key>`), ARGV[4] the blocking
-- states, comma-separated (of waiting, delayed, active), ARGV[5..] one job record (lib/enqueue.lua)
-- whose extra fields include dedupKey = ARGV[3]
-- Returns 1 when created (the common case: a number is the cheapest reply), else {status, id}:
-- {'duplicate', holder id} (nothing written) or {'exists', ''} when a job with this id exists already.
--@include lib/queue
--@include lib/enqueue
--@include lib/dedup_take

local key = ARGV[3]
local holder, previous = take_dedup(PREFIX, key, ARGV[5], ARGV[4])
if holder then
  return {'duplicate', holder}
end
if enqueue_record(5) == 0 then
  untake_dedup(key, previous)
  return {'exists', ''}
end
wake()
return 1
