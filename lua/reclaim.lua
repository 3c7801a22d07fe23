-- reclaim: hand back a job whose worker is gone (its liveness key lapsed, or its prefork child died
-- beside another running job), without waiting for the job's lock to lapse. Not an attempt: counted
-- in `lostCount`, and the job fails only past max_lost, so restarts of healthy workers never fail it.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] the gone worker's lock token,
-- ARGV[5] max lost count ('' = no limit)
-- Returns 'recovered', 'failed', 'cancelled', or 'lost' (that token no longer holds the job).
--@include lib/queue

local id, token, max_lost = ARGV[3], ARGV[4], tonumber(ARGV[5])
local job_key = PREFIX .. id
local meta = redis.call('HMGET', job_key, 'state', 'cancelledAt', 'priority', 'ts')
if meta[1] ~= 'active' or redis.call('GET', job_key .. ':lock') ~= token then
  return 'lost'
end
release(id, job_key)
if meta[2] then
  finish(id, job_key, 'cancelled', CANCELLED)
  emit('cancelled', id, 'reason', redis.call('HGET', job_key, 'cancelReason') or '')
  return 'cancelled'
end
local count = redis.call('HINCRBY', job_key, 'lostCount', 1)
if max_lost and count > max_lost then
  local err = 'its worker was lost ' .. count .. ' times (max ' .. max_lost .. ')'
  local detail = cjson.encode({type = 'WorkerLostError', module = 'taskora.errors', message = err,
    args = {err}})
  finish(id, job_key, 'failed', FAILED, 'error', err, 'errorDetail', detail, 'failedAt', NOW_S)
  emit('stalled', id, 'count', tostring(count), 'action', 'failed', 'reason', 'worker-lost')
  emit('failed', id, 'error', err)
  return 'failed'
end
push_waiting(id, tonumber(meta[3]) or 0, tonumber(meta[4]) or NOW, true)
redis.call('HSET', job_key, 'state', 'waiting')
emit('stalled', id, 'count', tostring(count), 'action', 'recovered', 'reason', 'worker-lost')
wake()
return 'recovered'
