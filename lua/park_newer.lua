-- park_newer: an active job whose payload version is newer than the claiming worker's task version
-- goes back, uncharged (its attempt is not counted), to wait for a newer worker: delayed by a
-- backoff that doubles with each time it was parked (base .. cap), noted in the NEWER index so a
-- newer worker claims it from there (claim_newer), and never failed. Its rate-limit turn is given
-- back (lib/rate_refund): it did not run.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua); KEYS[12]: the NEWER index (lib/newer.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id, ARGV[4] lock token, ARGV[5] the worker's task
-- version, ARGV[6] base backoff ms, ARGV[7] longest backoff ms
-- Returns {1, delay ms, times parked} when parked; {0} when this caller does not hold the job;
-- {-1} when the job's version is not above the worker's (nothing changed).
--@include lib/queue
--@include lib/newer
--@include lib/rate_refund

local id, token = ARGV[3], ARGV[4]
local worker_version = tonumber(ARGV[5])
local job_key = PREFIX .. id
if redis.call('HGET', job_key, 'state') ~= 'active' or not holds_job(job_key, token) then
  return {0}
end
local job_version = payload_version(job_key)
if job_version <= worker_version then
  return {-1}
end
release(id, job_key)
refund_start()
local parked = redis.call('HINCRBY', job_key, 'newerParks', 1)
local delay = math.min(tonumber(ARGV[7]), tonumber(ARGV[6]) * 2 ^ math.min(parked - 1, 30))
local run_at = string.format('%.0f', NOW + delay)
redis.call('HSET', job_key, 'state', 'delayed')
redis.call('ZADD', DELAYED, run_at, id)
redis.call('ZADD', NEWER, tostring(job_version), id)
emit('delayed', id, 'reason', 'newer_version', 'version', tostring(job_version),
  'workerVersion', tostring(worker_version), 'runAt', run_at)
return {1, math.floor(delay), parked}
