-- Completing a held job, inlined by ack.lua and ack_many.lua (needs lib/queue and lib/metrics first).
-- luacheck: push ignore 211 (helpers a including script may not use)

-- A kept result of at most INLINE_RESULT_MAX bytes also rides on the 'completed' event (an additive
-- field), so a client waiting on the job has it without reading the job hash.
local INLINE_RESULT_MAX = 512

-- Take a completed job whose result nobody reads out of active and delete it: what `release`,
-- `release_dedup` and the job's deletion do, with one read of the two fields that name its
-- concurrency slot and dedup key, and one DEL for the hash, its logs and its lock.
local function delete_completed(id, job_key)
  redis.call('LREM', ACTIVE, 1, id)
  redis.call('SREM', STALLED, id)
  local owned = redis.call('HMGET', job_key, 'concurrencyKey', 'dedupKey')
  free_slot_of(owned[1])
  release_dedup_of(id, owned[2])
  redis.call('DEL', job_key, job_key .. ':logs', job_key .. ':lock')
end

-- Complete job `id` held under `token` with `result`; `keep` '1' keeps the job and its result,
-- '0' deletes it now (results nobody will read). Returns 'ok', or 'lost' when another worker owns
-- the job now (this result is dropped; the job is not completed twice). The caller counts the 'ok'
-- ones (count_throughput): a batch counts them in one call.
local function complete_job(id, token, result, keep)
  local job_key = PREFIX .. id
  if not holds_job(job_key, token) then
    return 'lost'
  end
  if keep == '1' then
    release(id, job_key)
    finish(id, job_key, 'completed', COMPLETED, 'result', result)
  else
    delete_completed(id, job_key)
  end
  if keep == '1' and #result <= INLINE_RESULT_MAX then
    emit('completed', id, 'result', result)
  else
    emit('completed', id)
  end
  return 'ok'
end
-- luacheck: pop
