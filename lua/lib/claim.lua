-- The claim, inlined by `claim.lua` and by the fused ack/fail-and-claim scripts
-- (needs lib/queue, then lib/collect, included first).
-- luacheck: push ignore 211 (helpers a including script may not use)

-- The task's rate limit, shared by every worker (Celery's token bucket of capacity 1): a hash at
-- `<prefix>ratelimit` (same hash tag as the task's other keys) with `interval`, the ms between two
-- starts, and `tat`, the epoch ms from which the next job may start. No hash: no limit.
local RATE_KEY

-- What a script looks up once, however many jobs it claims (ack_many claims several), because nothing
-- a claim does changes it: whether due jobs were promoted, and whether the task has no rate limit.
-- A woken worker is woken once too: the marker's one member says only that work is there.
local claimed_once
--@per-call
RATE_KEY = PREFIX .. 'ratelimit'
claimed_once = {promoted = false, unlimited = false, woken = false}
--@end-per-call

-- The ms interval of the task's rate limit (nil when unlimited), and the epoch ms the next start is
-- due at when that is still ahead (nil when a job may start now).
local function rate_limit()
  if claimed_once.unlimited then
    return nil, nil
  end
  local rate = redis.call('HMGET', RATE_KEY, 'interval', 'tat')
  local interval = tonumber(rate[1])
  if not interval then
    claimed_once.unlimited = true
    return nil, nil
  end
  local due = tonumber(rate[2]) or 0
  if due > NOW then
    return interval, due
  end
  return interval, nil
end

-- A job not started within its ttl: kept as expired, or deleted when its task said
-- on_expire='discard' (the job hash's `onExpire`); the 'expired' event is sent either way.
local function expire_job(id, job_key)
  if redis.call('HGET', job_key, 'onExpire') == 'discard' then
    redis.call('DEL', job_key, job_key .. ':logs')
  else
    finish(id, job_key, 'expired', EXPIRED)
  end
  emit('expired', id)
end

-- Move due delayed jobs (and due retries) to waiting, at most `limit` per call.
local function promote_due(limit)
  local due = redis.call('ZRANGEBYSCORE', DELAYED, '-inf', NOW_S, 'LIMIT', '0', tostring(limit))
  for _, id in ipairs(due) do
    redis.call('ZREM', DELAYED, id)
    local job_key = PREFIX .. id
    local meta = redis.call('HMGET', job_key, 'priority', 'ts', 'expireAt')
    local expire_at = tonumber(meta[3]) or 0
    if expire_at > 0 and NOW >= expire_at then
      expire_job(id, job_key)
    elseif meta[2] then
      push_waiting(id, tonumber(meta[1]) or 0, tonumber(meta[2]) or NOW, false)
      redis.call('HSET', job_key, 'state', 'waiting')
      emit('promoted', id)
    end
  end
end

-- The next waiting id in claim order: priorities above 0 (a negative score), then the FIFO list of
-- priority 0, then priorities below 0; false when nothing waits.
local function pop_waiting()
  if prioritized_empty then
    return redis.call('RPOP', WAIT)
  end
  local top = redis.call('ZRANGE', PRIORITIZED, '0', '0', 'WITHSCORES')
  prioritized_empty = #top == 0
  if #top == 0 or tonumber(top[2]) >= 0 then
    local id = redis.call('RPOP', WAIT)
    if id or #top == 0 then
      return id
    end
  end
  redis.call('ZREM', PRIORITIZED, top[1])
  return top[1]
end

-- Next delayed run time as a string, or '' when nothing is delayed.
local function next_due()
  local head = redis.call('ZRANGE', DELAYED, '0', '0', 'WITHSCORES')
  if #head > 0 then
    return head[2]
  end
  return ''
end

-- A job hash's fields by name, from HGETALL's flat reply.
local function field_table(flat)
  local fields = {}
  for i = 1, #flat, 2 do
    fields[flat[i]] = flat[i + 1]
  end
  return fields
end

-- The claim's reply {id, more, field, value, ...} for the job whose hash `flat` (HGETALL's reply) was read
-- before the claim's HSET: with `state` and `processedOn` as that HSET set them (a field it adds comes last,
-- as in the hash itself), so one read serves both the claim's checks and its reply.
local function started_reply(id, more, flat)
  local reply, seen = {id, more and '1' or '0'}, {}
  local started = {state = 'active', processedOn = NOW_S}
  for i = 1, #flat, 2 do
    local name = flat[i]
    local value = started[name]
    if value then
      seen[name] = true
    else
      value = flat[i + 1]
    end
    reply[i + 2] = name
    reply[i + 3] = value
  end
  for _, name in ipairs({'state', 'processedOn'}) do
    if not seen[name] then
      reply[#reply + 1] = name
      reply[#reply + 1] = started[name]
    end
  end
  return reply
end

-- Claim the next runnable job under `token` for `lock_ttl` ms.
-- Returns {id, more, field, value, ...} (more: '1' when other jobs are waiting, then the whole job
-- hash) or {'', next_due_ms}; over the rate limit, next_due_ms is when the next job may start.
-- A job whose concurrency key is full is skipped (lib/concurrency).
local function claim_next(token, lock_ttl)
  if not claimed_once.promoted then
    promote_due(100)
    claimed_once.promoted = true
  end
  local rate_interval, rate_due = rate_limit()
  if rate_due and has_waiting() then
    return {'', string.format('%.0f', rate_due)}
  end
  if singleton_busy() and has_waiting() then  -- lib/concurrency: look again within a second
    return {'', due_after_held(1, next_due())}
  end
  for _ = 1, 100 do
    local id = pop_waiting()
    if not id then
      break
    end
    local job_key = PREFIX .. id
    local flat = redis.call('HGETALL', job_key)  -- read once: what the claim checks, and its reply
    local job = field_table(flat)
    local expire_at = tonumber(job.expireAt) or 0
    if expire_at > 0 and NOW >= expire_at then
      expire_job(id, job_key)
    elseif #flat > 0 and collect_drain(id, job_key, job.collectKey)
        and take_slot(id, job.concurrencyKey, job.concurrencyLimit) then
      redis.call('LPUSH', ACTIVE, id)
      redis.call('SET', job_key .. ':lock', token, 'PX', lock_ttl)
      redis.call('HSET', job_key, 'state', 'active', 'processedOn', NOW_S)
      if rate_interval then
        redis.call('HSET', RATE_KEY, 'tat', string.format('%.0f', math.ceil(NOW + rate_interval)))
      end
      emit('active', id)
      put_back_held()
      local more = has_waiting()
      if more and not claimed_once.woken then
        wake()
        claimed_once.woken = true
      end
      if job.collectKey then  -- collect_drain rewrote the hash: read it again
        flat = redis.call('HGETALL', job_key)
      end
      return started_reply(id, more, flat)
    end
  end
  return {'', due_after_held(put_back_held(), next_due())}
end
-- A fused transition's reply: its status, then (when a next-lock token is given) the next claim.
local function with_next_claim(status, token, lock_ttl)
  local reply = {status}
  if token ~= '' then
    for _, v in ipairs(claim_next(token, lock_ttl)) do
      reply[#reply + 1] = v
    end
  end
  return reply
end
-- luacheck: pop
