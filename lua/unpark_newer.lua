-- unpark_newer: a worker running version V of a task takes the jobs left for a newer worker whose
-- payload version is <= V back to waiting, at most `limit` per call (bounded work). Index entries
-- of jobs no longer parked (promoted when their backoff ended, cancelled, removed) are dropped.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua); KEYS[12]: the NEWER index (lib/newer.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] the worker's task version, ARGV[4] limit
-- Returns how many jobs went back to waiting.
--@include lib/queue
--@include lib/newer

local ids = redis.call('ZRANGEBYSCORE', NEWER, '-inf', ARGV[3], 'LIMIT', '0', ARGV[4])
local moved = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', NEWER, id)
  local job_key = PREFIX .. id
  if redis.call('HGET', job_key, 'state') == 'delayed' and redis.call('ZREM', DELAYED, id) == 1 then
    local meta = redis.call('HMGET', job_key, 'priority', 'ts')
    push_waiting(id, tonumber(meta[1]) or 0, tonumber(meta[2]) or NOW, true)
    redis.call('HSET', job_key, 'state', 'waiting')
    emit('promoted', id, 'reason', 'newer_worker')
    moved = moved + 1
  end
end
if moved > 0 then
  wake()
end
return moved
