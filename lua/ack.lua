-- ack: complete an active job with its result, and (on the hot path) claim the next one in the
-- same round trip.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] lock token, ARGV[5] serialized result,
-- ARGV[6] keep ('1' keep the job and its result, '0' delete it now: results nobody will read),
-- ARGV[7] next lock token ('' = do not claim), ARGV[8] next lock ttl ms
-- Returns {status, <claim reply...>}; status 'ok', or 'lost' when another worker owns the job now
-- (this worker's result is dropped; the job is not completed twice).
--@include lib/queue
--@include lib/collect
--@include lib/claim
--@include lib/metrics
--@include lib/complete

local status = complete_job(ARGV[3], ARGV[4], ARGV[5], ARGV[6])
if status == 'ok' then
  count_throughput('completed')
end
return with_next_claim(status, ARGV[7], ARGV[8])
