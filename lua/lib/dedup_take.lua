-- Deduplication admission, inlined by deduplicate.lua and deduplicate_many.lua (after lib/queue,
-- whose lib/dedup releases the keys): whether a dispatch may take a dedup key, and taking it.
-- luacheck: push ignore 211 (helpers a including script may not use)

-- Whether job `holder` is in one of the `blocking` states (comma-separated, of waiting, delayed,
-- active). A job waiting for a retry ('retrying') counts as 'delayed'; a holder that is gone does not
-- block.
local function dedup_blocks(prefix, holder, blocking)
  local state = redis.call('HGET', prefix .. holder, 'state')
  if state == 'retrying' then
    state = 'delayed'
  end
  if not state then
    return false
  end
  for listed in string.gmatch(blocking, '[^,]+') do
    if listed == state then
      return true
    end
  end
  return false
end

-- Take dedup key `key` for job `id`, which the caller creates next, unless a job in one of the
-- `blocking` states holds it. Returns the blocking holder's id (nothing written), or nil and what
-- the key held before (false when it was free), for `untake_dedup` should the job not be created.
-- A free key, the common case, costs one SET ... NX GET (Redis 7): no read before the write.
local function take_dedup(prefix, key, id, blocking)
  local holder = redis.call('SET', key, id, 'NX', 'GET')
  if not holder then
    return nil, false
  end
  if dedup_blocks(prefix, holder, blocking) then
    return holder, holder
  end
  redis.call('SET', key, id)
  return nil, holder
end

-- Put back a key `take_dedup` took for a job that was then not created (its id exists already).
local function untake_dedup(key, previous)
  if previous then
    redis.call('SET', key, previous)
  else
    redis.call('DEL', key)
  end
end
-- luacheck: pop
