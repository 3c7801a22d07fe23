-- scheduler_set: write (or delete) one schedule if it is still as the caller read it; used by
-- declarations syncing at startup and by pause/resume/update/remove/trigger.
-- KEYS[1] taskora:schedules (hash), KEYS[2] taskora:schedules:next (zset)
-- ARGV[1] name, ARGV[2] expected config JSON ('' = must not exist, '*' = any),
-- ARGV[3] new config JSON ('' = delete the schedule), ARGV[4] next run epoch ms ('' = none: paused)
-- Returns 1 when written, 0 when the stored config differs from ARGV[2] (re-read and try again).
local configs, nexts = KEYS[1], KEYS[2]
local name, expected, config, next_run = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

if expected ~= '*' then
  local current = redis.call('HGET', configs, name)
  if (expected == '' and current) or (expected ~= '' and current ~= expected) then
    return 0
  end
end
if config == '' then
  redis.call('HDEL', configs, name)
  redis.call('ZREM', nexts, name)
  return 1
end
redis.call('HSET', configs, name, config)
if next_run == '' then
  redis.call('ZREM', nexts, name)
else
  redis.call('ZADD', nexts, next_run, name)
end
return 1
