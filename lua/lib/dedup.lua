-- Deduplication keys, inlined through lib/queue (every ending transition releases them) and by
-- deduplicate.lua (admission). A key is the string `<prefix>dedup:<user key>` holding the id of the
-- job that owns it (no TTL, as TypeScript taskora writes it); the job hash names it in `dedupKey`.
-- luacheck: push ignore 211 (helpers a including script may not use)

-- Release the dedup key a job holds as it reaches a final state (completed, failed, cancelled,
-- expired) or is deleted. Only the owner releases: a key another job took over since is kept.
local function release_dedup(id, job_key)
  local key = redis.call('HGET', job_key, 'dedupKey')
  if key and redis.call('GET', key) == id then
    redis.call('DEL', key)
  end
end

-- The id of the job holding dedup key `key` in one of the `blocking` states (comma-separated, of
-- waiting, delayed, active), or nil when the key is free. A job waiting for a retry ('retrying')
-- counts as 'delayed'. The list is only read when a holder exists: a free key costs one GET.
local function dedup_holder(prefix, key, blocking)
  local holder = redis.call('GET', key)
  if not holder then
    return nil
  end
  local state = redis.call('HGET', prefix .. holder, 'state')
  if state == 'retrying' then
    state = 'delayed'
  end
  if not state then
    return nil
  end
  for listed in string.gmatch(blocking, '[^,]+') do
    if listed == state then
      return holder
    end
  end
  return nil
end
-- luacheck: pop
