-- debounce: the last dispatch within the window wins. A job that still waits out its delay under
-- the same debounce key is deleted (event 'debounced' with 'replacedBy'), and the new job is created
-- delayed by the window; the key then names the new job for twice the window, so it cleans itself up
-- (as TypeScript taskora writes it). A job already promoted or running is left alone.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] debounce key (`<prefix>debounce:<key>`),
-- ARGV[4..] one job record (lib/enqueue.lua) whose delay is the window in ms (> 0)
-- Returns {status, replaced id or ''}: status 'created', or 'exists' when a job with the new id
-- exists already (nothing is changed).
--@include lib/queue
--@include lib/enqueue

local key, id = ARGV[3], ARGV[4]
local replaced = ''
local old = redis.call('GET', key)
if old and redis.call('HGET', PREFIX .. old, 'state') == 'delayed' then
  -- nothing may change when the new id exists (enqueue_record checks it too, for a free key)
  if redis.call('EXISTS', PREFIX .. id) == 1 then
    return {'exists', ''}
  end
  redis.call('ZREM', DELAYED, old)
  redis.call('DEL', PREFIX .. old, PREFIX .. old .. ':logs')
  emit('debounced', old, 'replacedBy', id)
  replaced = old
end
if enqueue_record(4) == 0 then
  return {'exists', ''}
end
redis.call('SET', key, id, 'PX', string.format('%.0f', tonumber(ARGV[6]) * 2))
wake()
return {'created', replaced}
