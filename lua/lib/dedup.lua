-- Deduplication keys, inlined through lib/queue: every ending transition releases them (admission is
-- lib/dedup_take.lua). A key is the string `<prefix>dedup:<user key>` holding the id of the job that
-- owns it (no TTL, as TypeScript taskora writes it); the job hash names it in `dedupKey`.
-- luacheck: push ignore 211 (helpers a including script may not use)

-- Release the dedup key a job holds as it reaches a final state (completed, failed, cancelled,
-- expired) or is deleted. Only the owner releases: a key another job took over since is kept.
local function release_dedup(id, job_key)
  local key = redis.call('HGET', job_key, 'dedupKey')
  if key and redis.call('GET', key) == id then
    redis.call('DEL', key)
  end
end
-- luacheck: pop
