-- claim: promote due delayed jobs, then claim the next job by priority, then FIFO, and lock it.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] lock token, ARGV[4] lock ttl ms
-- Returns {id, more, field, value, ...} (more: '1' when other jobs are waiting, then the whole job
-- hash), or {'', next_due_ms or ''}.
--@include lib/queue
--@include lib/collect
--@include lib/claim

return claim_next(ARGV[3], ARGV[4])
