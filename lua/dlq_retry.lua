-- dlq_retry: give failed jobs a fresh start: out of :failed, attempt reset to 1, error cleared,
-- back to waiting. Ids that are not failed any more are skipped.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3..] job ids (at most a batch per call)
-- Returns the number of jobs requeued.
--@include lib/queue

local requeued = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local job_key = PREFIX .. id
  if redis.call('HGET', job_key, 'state') == 'failed' then
    redis.call('ZREM', FAILED, id)
    redis.call('HDEL', job_key, 'error', 'errorDetail', 'failedAt', 'finishedOn', 'processedOn',
      'stalledCount', 'nextAttemptAt')
    local meta = redis.call('HMGET', job_key, 'priority', 'ts')
    redis.call('HSET', job_key, 'state', 'waiting', 'attempt', '1')
    push_waiting(id, tonumber(meta[1]) or 0, tonumber(meta[2]) or NOW, false)
    emit('waiting', id, 'reason', 'retried')
    requeued = requeued + 1
  end
end
if requeued > 0 then
  wake()
end
return requeued
