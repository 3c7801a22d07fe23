-- clean_finished: "clean by age". Deletes up to ARGV[5] finished jobs of one state whose score in that
-- state's zset (the time they finished, ms) is at or before ARGV[4], oldest first: every key of each
-- job (hash, logs, lock) and its zset entry. One bounded batch per call so Redis never stalls; the
-- caller calls again while a batch came back full. Only the finished zsets are read, and a job whose
-- hash says another state (a stale entry) keeps its hash: a waiting, delayed or active job is never
-- deleted here.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] state (completed, failed, expired or cancelled),
-- ARGV[4] cutoff ms (jobs finished at or before it go), ARGV[5] batch size
-- Returns {deleted, looked at}: looked at < batch means nothing older is left.
--@include lib/queue

local state, cutoff, batch = ARGV[3], ARGV[4], ARGV[5]
local zset = ({completed = COMPLETED, failed = FAILED, expired = EXPIRED, cancelled = CANCELLED})[state]
if not zset then
  return redis.error_reply('ERR clean_finished: not a finished state: ' .. tostring(state))
end

local ids = redis.call('ZRANGEBYSCORE', zset, '-inf', cutoff, 'LIMIT', '0', batch)
local deleted = 0
for i = 1, #ids, 200 do
  local keys, members = {}, {}
  for j = i, math.min(i + 199, #ids) do
    local job_key = PREFIX .. ids[j]
    local held = redis.call('HGET', job_key, 'state')
    if held == state or not held then
      keys[#keys + 1] = job_key
      keys[#keys + 1] = job_key .. ':logs'
      keys[#keys + 1] = job_key .. ':lock'
      if held then
        deleted = deleted + 1
      end
    end
    members[#members + 1] = ids[j]
  end
  if #keys > 0 then
    redis.call('DEL', unpack(keys))
  end
  redis.call('ZREM', zset, unpack(members))
end
return {deleted, #ids}
