-- extend_lock: the running worker's heartbeat on one job.
-- KEYS[1] job hash, KEYS[2] its lock key
-- ARGV[1] lock token, ARGV[2] lock ttl ms
-- Returns 'extended', 'cancelled' (a cancel was requested: stop the handler), or 'lost' (another
-- worker holds the job now, or it is no longer active).
local job_key, lock_key = KEYS[1], KEYS[2]
local token, ttl = ARGV[1], ARGV[2]

local meta = redis.call('HMGET', job_key, 'state', 'cancelledAt')
if meta[1] ~= 'active' then
  return 'lost'
end
local lock = redis.call('GET', lock_key)
if lock and lock ~= token then
  return 'lost'
end
-- A lapsed lock on a job nobody re-claimed is taken back rather than abandoned.
redis.call('SET', lock_key, token, 'PX', ttl)
if meta[2] then
  return 'cancelled'
end
return 'extended'
