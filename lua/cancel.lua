-- cancel: a waiting or delayed job is cancelled at once; an active one is flagged and its worker
-- told through pub/sub (the lock heartbeat reports the flag too, should the message be missed).
-- KEYS[1..11]: the task's queue keys (lib/queue.lua), KEYS[12] the task's cancel channel
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] reason ('' = none)
-- Returns 'cancelled', 'flagged' (active: the worker finishes the cancel), 'finished' (already
-- in a final state) or 'missing'.
--@include lib/queue

local id, reason = ARGV[3], ARGV[4]
local job_key = PREFIX .. id
local state = redis.call('HGET', job_key, 'state')
if not state then
  return 'missing'
end
if state == 'active' then
  flag_cancel(id, job_key, reason, KEYS[12])
  return 'flagged'
end
if not unqueue(id, state) then
  return 'finished'
end
finish(id, job_key, 'cancelled', CANCELLED, 'cancelledAt', NOW_S, 'cancelReason', reason)
emit('cancelled', id, 'reason', reason)
return 'cancelled'
