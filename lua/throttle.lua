-- throttle: admit at most `max` dispatches per window and key; the rest create nothing. The counter
-- is the string `<prefix>throttle:<key>`, set to 1 with the window as its PX by the first admitted
-- dispatch and raised by the next ones (as TypeScript taskora writes it): a fixed window.
-- The window's end by the caller's clock is also kept, in `<prefix>throttleEnds:<key>` (additive;
-- same PX): a window is over when either says so, so TestRunner's virtual time ends it too. A window
-- a TypeScript process opened has no end key and lasts its PX.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] throttle key, ARGV[4] its end key, ARGV[5] max (>= 1),
-- ARGV[6] window ms, ARGV[7..] one job record (lib/enqueue.lua)
-- Returns 'created', 'throttled' (nothing written), or 'exists' (a job with this id exists; the
-- counter is not raised).
--@include lib/queue
--@include lib/enqueue

local key, ends_key, max, window = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local used = tonumber(redis.call('GET', key) or '0')
if used > 0 and NOW >= (tonumber(redis.call('GET', ends_key)) or math.huge) then
  used = 0
end
if used >= max then
  return 'throttled'
end
if enqueue_record(7) == 0 then
  return 'exists'
end
if used == 0 then
  redis.call('SET', key, '1', 'PX', window)
  redis.call('SET', ends_key, string.format('%.0f', NOW + tonumber(window)), 'PX', window)
else
  redis.call('INCR', key)
end
wake()
return 'created'
