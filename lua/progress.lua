-- progress: store a running job's progress (a serialized number or object) and announce it.
-- KEYS[1] job hash, KEYS[2] the task's events stream
-- ARGV[1] job id, ARGV[2] serialized progress
-- The event carries the value in field `value`, as the TypeScript taskora writes it (older Python
-- versions wrote `progress`; readers accept both).
-- Returns 1, or 0 when the job is not active any more.
if redis.call('HGET', KEYS[1], 'state') ~= 'active' then
  return 0
end
redis.call('HSET', KEYS[1], 'progress', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '10000', '*', 'event', 'progress', 'jobId', ARGV[1],
  'value', ARGV[2])
return 1
