-- finish_cancel: the worker running a flagged job has stopped it; record it as cancelled.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] lock token
-- Returns 1, or 0 when this worker no longer held the job.
--@include lib/queue

local id, token = ARGV[3], ARGV[4]
local job_key = PREFIX .. id
if not holds_job(job_key, token) then
  return 0
end
release(id, job_key)
local reason = redis.call('HGET', job_key, 'cancelReason') or ''
finish(id, job_key, 'cancelled', CANCELLED)
emit('cancelled', id, 'reason', reason)
return 1
