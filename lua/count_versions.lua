-- count_versions: how many jobs of one queue key carry each payload version `_v`, over a slice of
-- that key, so `app.inspect().migrations(task)` reads a long queue in bounded calls (each one short
-- enough not to hold Redis up) instead of one round trip per job.
-- KEYS[1]: the wait list, or the prioritized or delayed zset, of the task
-- ARGV[1] job key prefix `taskora:{<task>}:`, ARGV[2] 'list' or 'zset', ARGV[3] first index,
-- ARGV[4] how many ids at most
-- Returns {ids read, version, count, version, count, ...}; a job without `_v` counts as version 1,
-- one whose `_v` is not a number as version 0.

local prefix, kind = ARGV[1], ARGV[2]
local first = tonumber(ARGV[3])
local last = first + tonumber(ARGV[4]) - 1
local ids
if kind == 'list' then
  ids = redis.call('LRANGE', KEYS[1], first, last)
else
  ids = redis.call('ZRANGE', KEYS[1], first, last)
end
local counts = {}
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', prefix .. id, '_v')
  local version = 1
  if raw then
    version = tonumber(raw) or 0
  end
  counts[version] = (counts[version] or 0) + 1
end
local reply = {#ids}
for version, count in pairs(counts) do
  reply[#reply + 1] = version
  reply[#reply + 1] = count
end
return reply
