-- nack: give an active job back unfinished (cold shutdown, a replaced worker process). The attempt
-- is not counted; the job goes to the front of its queue so it runs next. A job that never started
-- (claimed ahead, reserved, claimed by a process that died before running it) also gives back its
-- rate-limit turn (lib/rate_refund).
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] lock token ('' = any holder),
-- ARGV[5] '1' when the job never started (optional)
-- Returns 1 when the job was requeued, 0 when this caller did not hold it.
--@include lib/queue
--@include lib/rate_refund

local id, token = ARGV[3], ARGV[4]
local job_key = PREFIX .. id
if redis.call('HGET', job_key, 'state') ~= 'active' then
  return 0
end
if token ~= '' and not holds_job(job_key, token) then
  return 0
end
release(id, job_key)
if ARGV[5] == '1' then
  refund_start()
end
local meta = redis.call('HMGET', job_key, 'priority', 'ts')
push_waiting(id, tonumber(meta[1]) or 0, tonumber(meta[2]) or NOW, true)
redis.call('HSET', job_key, 'state', 'waiting')
emit('waiting', id, 'reason', 'requeued')
wake()
return 1
