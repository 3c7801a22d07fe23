-- Per-key concurrency, inlined by lib/queue (after its helpers, before `release`).
-- Wire layout of the TypeScript taskora: a job hash may carry `concurrencyKey` and
-- `concurrencyLimit`; the string `<prefix>conc:<key>` counts that key's active jobs (INCR when a claim
-- starts one, DECR when it leaves active, deleted at 0), so every worker and process, Python or
-- TypeScript, enforces the same limit. A job whose key is full is held aside by the claim and put
-- back at the back of its queue when the claim ends, as the TypeScript claim does.
-- luacheck: push ignore 211 (helpers a including script may not use)

-- Ids the running claim held aside because their key was full (put back by put_back_held).
local HELD
--@per-call
HELD = {}
--@end-per-call

-- How many ms a claim that held jobs back asks its caller to look again at the latest (the
-- TypeScript claim re-arms its marker 1 s ahead for the same reason): a slot freed by a worker that
-- cannot wake anyone (one that died) is still used soon.
local HELD_RETRY_MS = 1000

local function slot_counter(key)
  return PREFIX .. 'conc:' .. key
end

-- Take a slot of the job's concurrency key (`key`, `limit`: its hash fields `concurrencyKey` and
-- `concurrencyLimit`, read by the claim). True when the job may start (it has no key, or a slot was
-- free and is now taken); false when the key is full, and the job is held aside.
local function take_slot(id, key, limit)
  limit = tonumber(limit) or 0
  if not key or key == '' or limit <= 0 then
    return true
  end
  local counter = slot_counter(key)
  if (tonumber(redis.call('GET', counter)) or 0) >= limit then
    HELD[#HELD + 1] = id
    return false
  end
  redis.call('INCR', counter)
  return true
end

-- Put the held jobs back at the back of their queue, in the order they were taken (their order
-- among themselves is kept; jobs of other keys get their turn). Returns how many there were.
local function put_back_held()
  local count = #HELD
  for i = 1, count do
    local id = HELD[i]
    push_waiting(id, tonumber(redis.call('HGET', PREFIX .. id, 'priority')) or 0, NOW, false)
    HELD[i] = nil
  end
  return count
end

-- A claim's "nothing to run now" time: the next delayed job's, or sooner when jobs were held back.
local function due_after_held(held, due)
  if held == 0 then
    return due
  end
  local retry = NOW + HELD_RETRY_MS
  if due ~= '' and tonumber(due) < retry then
    return due
  end
  return string.format('%.0f', retry)
end

-- Whether a claim of a task declared `singleton=True` by its Python worker must wait: the worker wrote
-- the string `<prefix>singleton` as it started, and a job of the task is active. This holds for every
-- job of the task, whoever produced it (a TypeScript producer writes no concurrency key; TypeScript's
-- own claim enforces its worker's singleton the same way, from the active list).
-- The string is read once per script (ack_many claims several jobs; no script writes it).
local singleton
--@per-call
singleton = nil
--@end-per-call
local function singleton_busy()
  if singleton == nil then
    singleton = redis.call('EXISTS', PREFIX .. 'singleton') == 1
  end
  return singleton and redis.call('LLEN', ACTIVE) > 0
end

-- Free the slot of a job leaving active (completed, failed, retried, cancelled, given back, stalled)
-- and wake a worker for the jobs that waited on it.
local function free_slot(job_key)
  local key = redis.call('HGET', job_key, 'concurrencyKey')
  if not key or key == '' then
    return
  end
  local counter = slot_counter(key)
  if redis.call('DECR', counter) <= 0 then
    redis.call('DEL', counter)
  end
  wake()
end
-- luacheck: pop
