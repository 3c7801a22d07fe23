-- ack_many: complete a batch of active jobs, then claim up to a number of jobs, in one round trip.
-- A worker with many slots uses it to settle and refill all of them at once.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] lock token for the claimed jobs, ARGV[4] lock ttl ms,
-- ARGV[5] how many jobs to claim, ARGV[6] n = how many completions follow, then n records of
-- 4 items: job id, its lock token, serialized result, keep ('1'/'0', as in ack.lua).
-- Returns {status_1, ..., status_n, next_due, m_1, <claim 1>, m_2, <claim 2>, ...}: a status per
-- completion ('ok' or 'lost'), the next delayed run time ('' when none or when every claim
-- succeeded), then each claimed job as its item count m and {id, more, field, value, ...}.
--@include lib/queue
--@include lib/collect
--@include lib/claim
--@include lib/metrics
--@include lib/complete

local token, lock_ttl, wanted, n = ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local reply, completed = {}, 0
for i = 0, n - 1 do
  local at = 7 + i * 4
  local status = complete_job(ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3])
  if status == 'ok' then
    completed = completed + 1
  end
  reply[#reply + 1] = status
end
if completed > 0 then
  count_throughput('completed', completed)
end
local due_at = #reply + 1
reply[due_at] = ''
for _ = 1, wanted do
  local claimed = claim_next(token, lock_ttl)
  if claimed[1] == '' then
    reply[due_at] = claimed[2]
    break
  end
  reply[#reply + 1] = #claimed
  for _, v in ipairs(claimed) do
    reply[#reply + 1] = v
  end
end
return reply
