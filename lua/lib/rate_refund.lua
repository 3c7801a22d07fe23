-- A start given back: a job that took its task's rate-limit turn when it was claimed (lib/claim.lua)
-- and is handed back without having run (parked for a newer worker, claimed ahead or reserved and
-- handed back) returns that turn in the same script, so a hand-back never slows its task down.
-- The limiter keeps no more than one turn (`tat` only moves back by one interval; a `tat` in the
-- past just means "a job may start now"), so a refund never allows a burst.
-- luacheck: push ignore 211 (helpers a including script may not use)

local RATE_REFUND_KEY
--@per-call
RATE_REFUND_KEY = PREFIX .. 'ratelimit'
--@end-per-call

local function refund_start()
  local rate = redis.call('HMGET', RATE_REFUND_KEY, 'interval', 'tat')
  local interval, due = tonumber(rate[1]), tonumber(rate[2])
  if interval and due then
    redis.call('HSET', RATE_REFUND_KEY, 'tat', string.format('%.0f', due - interval))
  end
end
-- luacheck: pop
