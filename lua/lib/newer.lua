-- Jobs left for a newer worker: a job whose payload version `_v` is above the version a worker
-- runs is put back (delayed, uncharged) by that worker and noted in the zset NEWER (member = job
-- id, score = its `_v`), so that a worker of a version >= `_v` takes it back to waiting at once.
-- A script that includes this file takes KEYS[12] = `taskora:{<task>}:newer`, after the queue keys.
-- luacheck: push ignore 211 (helpers a including script may not use)

local NEWER
--@per-call
NEWER = KEYS[12]
--@end-per-call

-- The job's payload version as stored (`_v`, 1 when absent).
local function payload_version(job_key)
  return tonumber(redis.call('HGET', job_key, '_v')) or 1
end
-- luacheck: pop
