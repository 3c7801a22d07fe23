-- Completing a held job, inlined by ack.lua and ack_many.lua (needs lib/queue first). The caller counts
-- the completions in the throughput metrics (lib/metrics), a batch once for all its jobs.
-- luacheck: push ignore 211 (helpers a including script may not use)

-- A kept result of at most INLINE_RESULT_MAX bytes also rides on the 'completed' event (an additive
-- field), so a client waiting on the job has it without reading the job hash.
local INLINE_RESULT_MAX = 512

-- Complete job `id` held under `token` with `result`; `keep` '1' keeps the job and its result,
-- '0' deletes it now (results nobody will read). Returns 'ok', or 'lost' when another worker owns
-- the job now (this result is dropped; the job is not completed twice).
local function complete_job(id, token, result, keep)
  local job_key = PREFIX .. id
  if not holds_job(job_key, token) then
    return 'lost'
  end
  release(id, job_key)
  if keep == '1' then
    finish(id, job_key, 'completed', COMPLETED, 'result', result)
  else
    release_dedup(id, job_key)
    redis.call('DEL', job_key, job_key .. ':logs')
  end
  if keep == '1' and #result <= INLINE_RESULT_MAX then
    emit('completed', id, 'result', result)
  else
    emit('completed', id)
  end
  return 'ok'
end
-- luacheck: pop
