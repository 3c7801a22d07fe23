-- cancel: a waiting or delayed job is cancelled at once; an active one is flagged and its worker
-- told through pub/sub (the lock heartbeat reports the flag too, should the message be missed).
-- With a terminate signal (Celery's revoke(terminate=True)) an active job is also finished as
-- cancelled at once: its worker then kills (prefork) or interrupts (threads) the handler, and
-- whatever that attempt does afterwards finds the job no longer held.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua), KEYS[12] the task's cancel channel
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] reason ('' = none),
-- ARGV[5] terminate signal name ('' or absent = no terminate)
-- Returns 'cancelled', 'flagged' (active: the worker finishes the cancel), 'terminated' (active,
-- finished now), 'finished' (already in a final state) or 'missing'.
--@include lib/queue

local id, reason, terminate = ARGV[3], ARGV[4], ARGV[5] or ''
local job_key = PREFIX .. id
local state = redis.call('HGET', job_key, 'state')
if not state then
  return 'missing'
end
if state == 'active' then
  if terminate ~= '' then
    redis.call('HSET', job_key, 'terminateSignal', terminate)
  end
  flag_cancel(id, job_key, reason, KEYS[12])
  if terminate == '' then
    return 'flagged'
  end
  release(id, job_key)
  finish(id, job_key, 'cancelled', CANCELLED)
  emit('cancelled', id, 'reason', reason)
  return 'terminated'
end
if not unqueue(id, state) then
  return 'finished'
end
finish(id, job_key, 'cancelled', CANCELLED, 'cancelledAt', NOW_S, 'cancelReason', reason)
emit('cancelled', id, 'reason', reason)
return 'cancelled'
