-- Job creation, inlined by enqueue.lua and enqueue_many.lua (needs lib/queue included first).
-- A job record is 8 + n consecutive ARGV items: id, serialized data, delay ms, priority,
-- maxAttempts ('' = no field: the task's attempts have no bound and its worker reads them from the
-- task), expireAt ms (0 = none), _v, n, then n items of extra field/value pairs.
-- luacheck: push ignore 211 (helpers a including script may not use)
--@include lib/rerun

-- Create the job of the record at ARGV[i]; returns 1 (created) or 0 (the id exists: a resent
-- enqueue is harmless, but see lib/rerun.lua), and the index of the next record.
local function enqueue_record(i)
  local id = ARGV[i]
  local next_i = i + 8 + tonumber(ARGV[i + 7])
  local job_key = PREFIX .. id
  if redis.call('EXISTS', job_key) == 1 and not replace_finished(job_key, id, i + 8, next_i - 1) then
    return 0, next_i
  end
  local delay = tonumber(ARGV[i + 2])
  local fields = {'ts', NOW_S, '_v', ARGV[i + 6], 'attempt', '1'}
  if ARGV[i + 4] ~= '' then
    fields[7] = 'maxAttempts'
    fields[8] = ARGV[i + 4]
  end
  fields[#fields + 1] = 'priority'
  fields[#fields + 1] = ARGV[i + 3]
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = ARGV[i + 1]
  if tonumber(ARGV[i + 5]) > 0 then
    fields[#fields + 1] = 'expireAt'
    fields[#fields + 1] = ARGV[i + 5]
  end
  for j = i + 8, next_i - 1 do
    fields[#fields + 1] = ARGV[j]
  end
  fields[#fields + 1] = 'state'
  if delay > 0 then
    fields[#fields + 1] = 'delayed'
    fields[#fields + 1] = 'delay'
    fields[#fields + 1] = ARGV[i + 2]
    redis.call('HSET', job_key, unpack(fields))
    redis.call('ZADD', DELAYED, tostring(NOW + delay), id)
    emit('delayed', id)
  else
    fields[#fields + 1] = 'waiting'
    redis.call('HSET', job_key, unpack(fields))
    push_waiting(id, tonumber(ARGV[i + 3]), NOW, false)
    emit('waiting', id)
  end
  return 1, next_i
end
-- luacheck: pop
