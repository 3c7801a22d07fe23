-- throttle: admit at most `max` dispatches per window and key; the rest create nothing. The counter
-- is the string `<prefix>throttle:<key>`, set to 1 with the window as its PX by the first admitted
-- dispatch and raised by the next ones (as TypeScript taskora writes it): a fixed window.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] throttle key, ARGV[4] max (>= 1), ARGV[5] window ms,
-- ARGV[6..] one job record (lib/enqueue.lua)
-- Returns 'created', 'throttled' (nothing written), or 'exists' (a job with this id exists; the
-- counter is not raised).
--@include lib/queue
--@include lib/enqueue

local key, max, window = ARGV[3], tonumber(ARGV[4]), ARGV[5]
local used = tonumber(redis.call('GET', key) or '0')
if used >= max then
  return 'throttled'
end
if enqueue_record(6) == 0 then
  return 'exists'
end
if used == 0 then
  redis.call('SET', key, '1', 'PX', window)
else
  redis.call('INCR', key)
end
wake()
return 'created'
