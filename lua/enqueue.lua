-- enqueue: create a job and make it waiting (or delayed).
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] serialized data, ARGV[5] delay ms,
-- ARGV[6] priority, ARGV[7] maxAttempts, ARGV[8] expireAt ms (0 = none), ARGV[9] _v,
-- ARGV[10..] extra field/value pairs stored on the job hash (workflow, Celery metadata...).
-- Returns 1 when created, 0 when a job with this id already exists (a resent enqueue is harmless).
--@include lib/queue

local id = ARGV[3]
local job_key = PREFIX .. id
if redis.call('EXISTS', job_key) == 1 then
  return 0
end

local delay = tonumber(ARGV[5])
local priority = tonumber(ARGV[6])
redis.call('HSET', job_key, 'ts', NOW_S, '_v', ARGV[9], 'attempt', '1', 'maxAttempts', ARGV[7],
  'priority', ARGV[6], 'data', ARGV[4])
if tonumber(ARGV[8]) > 0 then
  redis.call('HSET', job_key, 'expireAt', ARGV[8])
end
if #ARGV > 9 then
  redis.call('HSET', job_key, unpack(ARGV, 10))
end

if delay > 0 then
  redis.call('HSET', job_key, 'state', 'delayed', 'delay', ARGV[5])
  redis.call('ZADD', DELAYED, tostring(NOW + delay), id)
  emit('delayed', id)
else
  redis.call('HSET', job_key, 'state', 'waiting')
  push_waiting(id, priority, NOW, false)
  emit('waiting', id)
end
wake()
return 1
