-- scheduler_unlock: give up the scheduler leader lock on a clean stop, so another runner (or
-- this one restarted) leads at its next tick instead of waiting out the ttl.
-- KEYS[1] taskora:schedules:lock
-- ARGV[1] this runner's token
-- Returns 1 when our lock was released, 0 when we did not hold it (it expired or moved on).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
