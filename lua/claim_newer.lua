-- claim_newer: a worker running version V of a task claims a job left for a newer worker whose
-- payload version is <= V (lib/newer.lua) directly, in this one script: the job never goes through
-- the shared waiting list, where a worker too old for it could claim it and park it again. Without
-- such a job (or when the claim cannot start it now: a rate limit, a singleton, a higher priority
-- job first) this is the plain claim, and the parked job stays parked as it was.
-- Index entries of jobs no longer parked (promoted when their backoff ended, cancelled, removed) are
-- dropped on the way.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua); KEYS[12]: the NEWER index (lib/newer.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] lock token, ARGV[4] lock ttl ms, ARGV[5] the worker's task
-- version, ARGV[6] how many index entries to look at, at most
-- Returns the claim's reply (claim.lua).
--@include lib/queue
--@include lib/collect
--@include lib/claim
--@include lib/newer

-- The first job parked for this version, taken out of the delayed set and the index (stale entries
-- dropped): its id, delayed score and payload version; nil when there is none.
local function take_parked(version, limit)
  local ids = redis.call('ZRANGEBYSCORE', NEWER, '-inf', version, 'WITHSCORES', 'LIMIT', '0', limit)
  for i = 1, #ids, 2 do
    local id = ids[i]
    redis.call('ZREM', NEWER, id)
    local run_at = redis.call('ZSCORE', DELAYED, id)
    if run_at and redis.call('HGET', PREFIX .. id, 'state') == 'delayed' then
      redis.call('ZREM', DELAYED, id)
      return id, run_at, ids[i + 1]
    end
  end
  return nil
end

local id, run_at, job_version = take_parked(ARGV[5], ARGV[6])
if id then  -- first in line: the front of the FIFO list, or its place among the prioritized jobs
  local job_key = PREFIX .. id
  local meta = redis.call('HMGET', job_key, 'priority', 'ts')
  push_waiting(id, tonumber(meta[1]) or 0, tonumber(meta[2]) or NOW, true)
  redis.call('HSET', job_key, 'state', 'waiting')
end
local reply = claim_next(ARGV[3], ARGV[4])
if id and reply[1] ~= id then  -- not started now: parked again, exactly as it was
  if redis.call('HGET', PREFIX .. id, 'state') == 'waiting' then
    unqueue(id, 'waiting')
    redis.call('HSET', PREFIX .. id, 'state', 'delayed')
    redis.call('ZADD', DELAYED, run_at, id)
    redis.call('ZADD', NEWER, job_version, id)
  end
end
return reply
