-- ack: complete an active job with its result, and (on the hot path) claim the next one in the
-- same round trip.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] lock token, ARGV[5] serialized result,
-- ARGV[6] keep ('1' keep the job and its result, '0' delete it now: results nobody will read),
-- ARGV[7] next lock token ('' = do not claim), ARGV[8] next lock ttl ms
-- Returns {status, <claim reply...>}; status 'ok', or 'lost' when another worker owns the job now
-- (this worker's result is dropped; the job is not completed twice).
-- A kept result of at most INLINE_RESULT_MAX bytes also rides on the 'completed' event (an additive
-- field), so a client waiting on the job has it without reading the job hash.
--@include lib/queue
--@include lib/claim

local INLINE_RESULT_MAX = 512

local id, token = ARGV[3], ARGV[4]
local job_key = PREFIX .. id
local status = 'lost'
if holds_job(job_key, token) then
  status = 'ok'
  release(id, job_key)
  if ARGV[6] == '1' then
    finish(id, job_key, 'completed', COMPLETED, 'result', ARGV[5])
  else
    redis.call('DEL', job_key, job_key .. ':logs')
  end
  if ARGV[6] == '1' and #ARGV[5] <= INLINE_RESULT_MAX then
    emit('completed', id, 'result', ARGV[5])
  else
    emit('completed', id)
  end
end

return with_next_claim(status, ARGV[7], ARGV[8])
