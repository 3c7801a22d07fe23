-- trim: retention. Deletes finished jobs older than their age limit or beyond their count limit,
-- oldest first, at most ARGV[7] per state zset per call so one call stays short (the worker calls
-- again at once while a call deleted a whole batch, so retention keeps up with any rate).
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] completed max age ms, ARGV[4] completed max count,
-- ARGV[5] failed max age ms, ARGV[6] failed max count (also used for expired and cancelled),
-- ARGV[7] batch size
-- Returns the number of jobs deleted.
--@include lib/queue

local batch = tonumber(ARGV[7])

-- Delete the jobs `ids` of one state zset: their hashes and logs, then their zset entries, a few
-- hundred keys per command (all keys of a task share one hash tag, so one slot).
local function drop(zset, ids)
  for i = 1, #ids, 250 do
    local keys, members = {}, {}
    for j = i, math.min(i + 249, #ids) do
      local job_key = PREFIX .. ids[j]
      keys[#keys + 1] = job_key
      keys[#keys + 1] = job_key .. ':logs'
      members[#members + 1] = ids[j]
    end
    redis.call('DEL', unpack(keys))
    redis.call('ZREM', zset, unpack(members))
  end
  return #ids
end

local function trim_state(zset, max_age, max_count)
  local removed = 0
  if max_age >= 0 then
    local old = redis.call('ZRANGEBYSCORE', zset, '-inf', tostring(NOW - max_age),
      'LIMIT', '0', tostring(batch))
    removed = removed + drop(zset, old)
  end
  if max_count >= 0 then
    local excess = redis.call('ZCARD', zset) - max_count
    if excess > 0 then
      removed = removed + drop(zset, redis.call('ZRANGE', zset, '0', tostring(math.min(excess, batch) - 1)))
    end
  end
  return removed
end

local completed_age, completed_count = tonumber(ARGV[3]), tonumber(ARGV[4])
local failed_age, failed_count = tonumber(ARGV[5]), tonumber(ARGV[6])
return trim_state(COMPLETED, completed_age, completed_count)
  + trim_state(FAILED, failed_age, failed_count)
  + trim_state(EXPIRED, failed_age, failed_count)
  + trim_state(CANCELLED, failed_age, failed_count)
