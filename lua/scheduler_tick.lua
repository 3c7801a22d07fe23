-- scheduler_tick: the leader records what one tick did for its due schedules, all or nothing.
-- The leader computes next run times in Python (cron math cannot live here) and dispatches the
-- runs first, with job ids derived from schedule name + fire time, so a tick re-run by a new
-- leader re-enqueues the same ids and the idempotent enqueue drops them.
-- KEYS[1] taskora:schedules:lock, KEYS[2] taskora:schedules (hash), KEYS[3] taskora:schedules:next (zset)
-- ARGV[1] the leader's token, then per schedule five values: name, the config JSON the leader read,
-- the next run (epoch ms) it read, the new config JSON, the new next run.
-- Returns {'lost'} when the token no longer holds the lock (nothing written); else {'ok', names...}
-- with the schedules recorded. A schedule whose config or next run changed since the leader read
-- it (paused, updated or removed meanwhile) is left as it is now.
local lock_key, configs, nexts = KEYS[1], KEYS[2], KEYS[3]

if redis.call('GET', lock_key) ~= ARGV[1] then
  return {'lost'}
end
local recorded = {'ok'}
for i = 2, #ARGV, 5 do
  local name, seen_config, seen_next = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local score = redis.call('ZSCORE', nexts, name)
  local unchanged = score and tonumber(score) == tonumber(seen_next)
  if unchanged and redis.call('HGET', configs, name) == seen_config then
    redis.call('HSET', configs, name, ARGV[i + 3])
    redis.call('ZADD', nexts, ARGV[i + 4], name)
    recorded[#recorded + 1] = name
  end
end
return recorded
