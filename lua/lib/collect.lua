-- Collect (batching), inlined by collect_push.lua and, for the drain, by every script that claims
-- (needs lib/queue included first). A buffer lives under the task's prefix (one hash slot):
--   collect:<k>:items  list of serialized items, oldest first
--   collect:<k>:meta   hash: count, firstAt, lastAt (ms)
--   collect:<k>:job    string: id of the pending flush job (a delayed job with `collectKey` and data "[]")
-- An item is in exactly one place: the buffer, or the data of the one job that took the buffer.
-- luacheck: push ignore 211 (helpers a including script may not use)

local function collect_keys(key)
  local base = PREFIX .. 'collect:' .. key
  return base .. ':items', base .. ':meta', base .. ':job'
end

-- Drop the buffer's pending flush job (delayed, or promoted and not yet claimed): the next one replaces it.
local function collect_drop_flush(flush_key)
  local old = redis.call('GET', flush_key)
  if not old then
    return
  end
  local old_key = PREFIX .. old
  local state = redis.call('HGET', old_key, 'state')
  if unqueue(old, state) then
    redis.call('DEL', old_key)
  end
end

-- Make job `id` the batch now: its data is the whole buffer, which is gone afterwards.
local function collect_flush_now(id, items_key, meta_key, flush_key, version, max_attempts)
  local items = redis.call('LRANGE', items_key, '0', '-1')
  redis.call('DEL', items_key, meta_key, flush_key)
  redis.call('HSET', PREFIX .. id, 'ts', NOW_S, '_v', version, 'attempt', '1', 'maxAttempts', max_attempts,
    'state', 'waiting', 'priority', '0', 'data', '[' .. table.concat(items, ',') .. ']')
  push_waiting(id, 0, NOW, false)
  wake()
  emit('waiting', id)
end

-- (Re)arm the flush timer as delayed job `id`: due `delay` ms after this item, or `max_wait` ms after the
-- buffer's first item when that is sooner.
local function collect_schedule(id, key, meta_key, flush_key, c)
  local run_at = NOW + c.delay
  if c.max_wait > 0 then
    local first_at = tonumber(redis.call('HGET', meta_key, 'firstAt')) or NOW
    run_at = math.min(run_at, first_at + c.max_wait)
  end
  local run_at_s = string.format('%.0f', run_at)
  redis.call('HSET', PREFIX .. id, 'ts', NOW_S, '_v', c.version, 'attempt', '1',
    'maxAttempts', c.max_attempts, 'state', 'delayed', 'collectKey', key, 'data', '[]')
  redis.call('ZADD', DELAYED, run_at_s, id)
  redis.call('ZADD', MARKER, 'LT', run_at_s, '0')
  redis.call('SET', flush_key, id, 'PX', string.format('%.0f', 2 * math.max(c.delay, c.max_wait)))
end

-- Append one item to buffer `key`; flush it into job `id` when it reaches c.max_size, else make `id` the
-- buffer's flush timer. Returns {1, count} when flushed, {0, count} when buffered, {-1, 0} when job `id`
-- exists already (a resent push: the item is in already).
local function collect_push(id, item, key, c)
  if redis.call('EXISTS', PREFIX .. id) == 1 then
    return {-1, 0}
  end
  local items_key, meta_key, flush_key = collect_keys(key)
  redis.call('RPUSH', items_key, item)
  local count = redis.call('HINCRBY', meta_key, 'count', 1)
  redis.call('HSET', meta_key, 'lastAt', NOW_S)
  if count == 1 then
    redis.call('HSET', meta_key, 'firstAt', NOW_S)
  end
  collect_drop_flush(flush_key)
  if c.max_size > 0 and count >= c.max_size then
    collect_flush_now(id, items_key, meta_key, flush_key, c.version, c.max_attempts)
    return {1, count}
  end
  collect_schedule(id, key, meta_key, flush_key, c)
  emit('collect', id, 'count', tostring(count), 'key', key)
  return {0, count}
end

-- At claim, a flush job takes its buffer: the items become its data (so a re-run after a crash or a
-- retry has them) and `collectKey` goes. Returns false, having deleted the job, when the buffer is empty
-- (an earlier flush took it); true for every other job. `key`: the job's `collectKey` (false: none).
local function collect_drain(id, job_key, key)
  if not key then
    return true
  end
  local items_key, meta_key, flush_key = collect_keys(key)
  if redis.call('GET', flush_key) == id then
    redis.call('DEL', flush_key)
  end
  local items = redis.call('LRANGE', items_key, '0', '-1')
  if #items == 0 then
    redis.call('DEL', job_key)
    return false
  end
  redis.call('HSET', job_key, 'data', '[' .. table.concat(items, ',') .. ']')
  redis.call('DEL', items_key, meta_key)
  redis.call('HDEL', job_key, 'collectKey')
  return true
end
-- luacheck: pop
