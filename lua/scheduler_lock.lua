-- scheduler_lock: take or keep the scheduler leader lock (one leader across every process).
-- KEYS[1] taskora:schedules:lock
-- ARGV[1] this runner's token, ARGV[2] lock ttl ms
-- Returns 2 when the lock was free and is now ours, 1 when we held it and renewed it, 0 when
-- another runner holds it. The lock expires on Redis' clock, so a dead leader is replaced
-- within one ttl.
local lock_key, token, ttl = KEYS[1], ARGV[1], ARGV[2]

local holder = redis.call('GET', lock_key)
if holder == token then
  redis.call('PEXPIRE', lock_key, ttl)
  return 1
end
if holder then
  return 0
end
redis.call('SET', lock_key, token, 'PX', ttl)
return 2
