-- stall_sweep: recover jobs whose worker died. Two phases: an active job whose lock is gone and
-- that was already active at the previous sweep is stalled; it is re-queued while its stalled count
-- stays within max_count, and failed past it with TypeScript's error text (its type, StalledError,
-- in errorDetail as a Python worker records it). Then the sweep notes the jobs active now, for the
-- next sweep.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] max stalled count
-- Returns {recovered ids..., '|', failed ids...}.
--@include lib/queue

local max_count = tonumber(ARGV[3])
local recovered, failed = {}, {}

local function fail_stalled(id, job_key, count)
  local err = 'Job stalled and exceeded max stalled count'
  local detail = cjson.encode({type = 'StalledError', module = 'taskora.errors', args = {err},
    message = err .. ' (stalled ' .. count .. ' times, max ' .. max_count .. ')'})
  finish(id, job_key, 'failed', FAILED, 'error', err, 'errorDetail', detail, 'failedAt', NOW_S)
  emit('stalled', id, 'count', tostring(count), 'action', 'failed')
  emit('failed', id, 'error', err)
  failed[#failed + 1] = id
end

local function requeue_stalled(id, job_key, count)
  local meta = redis.call('HMGET', job_key, 'priority', 'ts')
  push_waiting(id, tonumber(meta[1]) or 0, tonumber(meta[2]) or NOW, true)
  redis.call('HSET', job_key, 'state', 'waiting')
  emit('stalled', id, 'count', tostring(count), 'action', 'recovered')
  wake()
  recovered[#recovered + 1] = id
end

for _, id in ipairs(redis.call('SMEMBERS', STALLED)) do
  local job_key = PREFIX .. id
  local meta = redis.call('HMGET', job_key, 'state', 'cancelledAt')
  if meta[1] == 'active' and redis.call('EXISTS', job_key .. ':lock') == 0 then
    release(id, job_key)
    if meta[2] then
      finish(id, job_key, 'cancelled', CANCELLED)
      emit('cancelled', id, 'reason', redis.call('HGET', job_key, 'cancelReason') or '')
    else
      local count = redis.call('HINCRBY', job_key, 'stalledCount', 1)
      if count > max_count then
        fail_stalled(id, job_key, count)
      else
        requeue_stalled(id, job_key, count)
      end
    end
  end
end

redis.call('DEL', STALLED)
local active = redis.call('LRANGE', ACTIVE, '0', '-1')
for i = 1, #active, 1000 do
  redis.call('SADD', STALLED, unpack(active, i, math.min(i + 999, #active)))
end

local reply = recovered
reply[#reply + 1] = '|'
for _, id in ipairs(failed) do
  reply[#reply + 1] = id
end
return reply
