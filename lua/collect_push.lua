-- collect_push: append one item to a task's collect buffer; flush it into a job at max_size, else
-- (re)arm its flush timer (a delayed job the claim drains the buffer into).
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] serialized item (JSON), ARGV[5] collect key,
-- ARGV[6] delay ms, ARGV[7] max size (0 = none), ARGV[8] max wait ms (0 = none), ARGV[9] _v,
-- ARGV[10] maxAttempts
-- Returns {1, count} when this push flushed the buffer into job ARGV[3], {0, count} when buffered,
-- {-1, 0} when job ARGV[3] exists already (a resent push).
--@include lib/queue
--@include lib/collect

return collect_push(ARGV[3], ARGV[4], ARGV[5], {
  delay = tonumber(ARGV[6]), max_size = tonumber(ARGV[7]), max_wait = tonumber(ARGV[8]),
  version = ARGV[9], max_attempts = ARGV[10],
})
