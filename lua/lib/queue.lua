-- Shared helpers, inlined into a script where it says `--@include lib/queue`.
--
-- Every script that includes this file takes the task's queue keys as KEYS[1..11]:
--   1 wait (list)   2 prioritized (zset)   3 active (list)   4 delayed (zset)
--   5 completed     6 failed               7 expired         8 cancelled      (zsets, score = ms)
--   9 events (stream)   10 stalled (set)   11 marker (zset the blocking claim waits on)
-- and ARGV[1] = the job key prefix `taskora:{<task>}:`, ARGV[2] = the caller's clock in epoch ms, or
-- '' for Redis' own clock (only sent by a claim queued behind a blocking wait: its caller cannot know
-- when it will run).
-- luacheck: push ignore 211 231 (helpers and keys a including script may not use)

local WAIT, PRIORITIZED, ACTIVE, DELAYED, COMPLETED, FAILED, EXPIRED, CANCELLED, EVENTS, STALLED, MARKER
local PREFIX, NOW_S, NOW
-- True while this script knows the priority zset is empty: it looked, and pushed no job with a
-- priority since. A batch claim (ack_many) then looks once, not once per job.
local prioritized_empty
--@per-call
WAIT, PRIORITIZED, ACTIVE, DELAYED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
COMPLETED, FAILED, EXPIRED, CANCELLED = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
EVENTS, STALLED, MARKER = KEYS[9], KEYS[10], KEYS[11]
PREFIX = ARGV[1]
NOW_S = ARGV[2]
if NOW_S == '' then
  local clock = redis.call('TIME')
  NOW_S = string.format('%.0f', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
end
NOW = tonumber(NOW_S)
prioritized_empty = false
--@end-per-call

-- Append a lifecycle event; extra field/value pairs follow the job id.
local function emit(event, id, ...)
  redis.call('XADD', EVENTS, 'MAXLEN', '~', '10000', '*', 'event', event, 'jobId', id, ...)
end

-- Wake one blocked worker; the claim that follows re-arms the marker while work remains.
local function wake()
  redis.call('ZADD', MARKER, '0', '0')
end

-- Put a job id where a claim will find it: the FIFO list for priority 0, the priority zset otherwise,
-- scored -(priority * 1e13) + ts: below 0 for a priority above 0, above 1e13 for one below 0.
local function push_waiting(id, priority, ts, at_front)
  if priority ~= 0 then
    redis.call('ZADD', PRIORITIZED, tostring(-(priority * 1e13) + ts), id)
    prioritized_empty = false
  elseif at_front then
    redis.call('RPUSH', WAIT, id)
  else
    redis.call('LPUSH', WAIT, id)
  end
end

local function has_waiting()
  if redis.call('LLEN', WAIT) > 0 then
    return true
  end
  return not prioritized_empty and redis.call('ZCARD', PRIORITIZED) > 0
end

-- A job holds its lock while a worker runs it. The ending transitions accept the holder's token,
-- or a lapsed lock on a job nobody re-claimed (it is still active and no other token exists).
local function holds_job(job_key, token)
  local lock = redis.call('GET', job_key .. ':lock')
  if lock then
    return lock == token
  end
  return redis.call('HGET', job_key, 'state') == 'active'
end

--@include lib/concurrency

-- Take a job out of the active set: unlock it, free its concurrency slot and forget it was seen by
-- the stall sweep.
local function release(id, job_key)
  redis.call('LREM', ACTIVE, 1, id)
  redis.call('DEL', job_key .. ':lock')
  redis.call('SREM', STALLED, id)
  free_slot(job_key)
end

--@include lib/dedup

-- Record a terminal state in the job hash, its state zset and the stream.
local function finish(id, job_key, state, zset, ...)
  redis.call('HSET', job_key, 'state', state, 'finishedOn', NOW_S, ...)
  redis.call('ZADD', zset, NOW_S, id)
  release_dedup(id, job_key)
end
-- Flag an active job for cancel and tell its worker, which ends it through finish_cancel.
local function flag_cancel(id, job_key, reason, channel)
  redis.call('HSET', job_key, 'cancelledAt', NOW_S, 'cancelReason', reason)
  redis.call('PUBLISH', channel, id)
end

-- Take a waiting or delayed job out of its queue; false when ``state`` is neither.
local function unqueue(id, state)
  if state == 'waiting' then
    redis.call('LREM', WAIT, 0, id)
    redis.call('ZREM', PRIORITIZED, id)
    return true
  end
  if state == 'delayed' or state == 'retrying' then
    redis.call('ZREM', DELAYED, id)
    return true
  end
  return false
end
-- luacheck: pop
