-- workflow_settle: finish the job of a workflow node that will no longer run normally because its
-- workflow failed or was cancelled, so every handle on it resolves instead of waiting forever.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua), KEYS[12] the task's cancel channel
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] final state ('failed' | 'cancelled'),
-- ARGV[5] error text / cancel reason, ARGV[6] error detail ('' = none),
-- ARGV[7..] field/value pairs written when the job hash has to be created (_wf, _wfNode...).
-- A job never enqueued is created directly in the final state; a waiting/delayed one is removed
-- from its queue and finished; an active one is flagged for cancel and its worker told (it ends
-- through finish_cancel); a job already final is left alone.
-- Returns 'settled', 'flagged' or 'finished'.
--@include lib/queue

local id, final, err, detail = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local job_key = PREFIX .. id
local state = redis.call('HGET', job_key, 'state')
if state == 'active' then
  flag_cancel(id, job_key, err, KEYS[12])
  return 'flagged'
end
if not state then
  redis.call('HSET', job_key, 'ts', NOW_S, '_v', '1', 'attempt', '0', 'maxAttempts', '1', 'priority', '0')
  if #ARGV > 6 then
    redis.call('HSET', job_key, unpack(ARGV, 7))
  end
elseif not unqueue(id, state) then
  return 'finished'
end
if detail ~= '' then
  redis.call('HSET', job_key, 'errorDetail', detail)
end
if final == 'failed' then
  finish(id, job_key, 'failed', FAILED, 'error', err, 'failedAt', NOW_S)
  emit('failed', id, 'error', err)
else
  finish(id, job_key, 'cancelled', CANCELLED, 'cancelledAt', NOW_S, 'cancelReason', err)
  emit('cancelled', id, 'reason', err)
end
return 'settled'
