-- fail: end an attempt that raised. With a retry delay the job goes to :delayed with its attempt
-- counter raised (state 'retrying'); without one it fails for good. Optionally claims the next job.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] lock token, ARGV[5] error text,
-- ARGV[6] retry delay ms, counted from now ('' = permanent failure),
-- ARGV[7] next lock token ('' = do not claim), ARGV[8] next lock ttl ms,
-- ARGV[9] error detail (serialized type/traceback; '' = none),
-- ARGV[10] '1' when ARGV[11] holds new serialized data for the retry (else '0')
-- Returns {status, <claim reply...>}: status 'retrying', 'failed', or 'lost' (see ack.lua).
--@include lib/queue
--@include lib/collect
--@include lib/claim
--@include lib/metrics

local id, token, err, retry_delay = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local job_key = PREFIX .. id
local status = 'lost'
if holds_job(job_key, token) then
  release(id, job_key)
  if ARGV[9] ~= '' then
    redis.call('HSET', job_key, 'errorDetail', ARGV[9])
  end
  if retry_delay ~= '' then
    status = 'retrying'
    local retry_at = tostring(NOW + tonumber(retry_delay))
    if ARGV[10] == '1' then
      redis.call('HSET', job_key, 'data', ARGV[11])
    end
    local attempt = redis.call('HINCRBY', job_key, 'attempt', 1)
    redis.call('HSET', job_key, 'state', 'retrying', 'error', err, 'failedAt', NOW_S,
      'nextAttemptAt', retry_at)
    redis.call('ZADD', DELAYED, retry_at, id)
    emit('retrying', id, 'attempt', tostring(attempt), 'nextAttemptAt', retry_at, 'failedAt', NOW_S,
      'error', err)
    wake()
  else
    status = 'failed'
    finish(id, job_key, 'failed', FAILED, 'error', err, 'failedAt', NOW_S)
    count_throughput('failed')
    emit('failed', id, 'error', err)
  end
end

return with_next_claim(status, ARGV[7], ARGV[8])
