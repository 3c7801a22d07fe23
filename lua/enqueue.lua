-- enqueue: create a job and make it waiting (or delayed).
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3..] one job record (lib/enqueue.lua): id, data, delay ms,
-- priority, maxAttempts ('' = none stored), expireAt ms, _v, n, then n items of extra field/value
-- pairs stored on the job hash (workflow, Celery metadata...).
-- Returns 1 when created, 0 when a job with this id already exists (a resent enqueue is harmless).
--@include lib/queue
--@include lib/enqueue

local created = enqueue_record(3)
if created == 1 then
  wake()
end
return created
