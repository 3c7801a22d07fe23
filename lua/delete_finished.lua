-- delete_finished: delete one finished job (completed, failed, expired or cancelled) for good: its hash,
-- its logs and its entry in its state zset, as retention would. A job that is not finished is left alone:
-- a waiting, delayed or active job is cancelled, never deleted (a worker may hold it, a workflow wait on it).
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3] job id
-- Returns the state the job was in ('' when there is no such job): deleted when that is a finished one.
--@include lib/queue

local id = ARGV[3]
local job_key = PREFIX .. id
local state = redis.call('HGET', job_key, 'state')
if not state then
  return ''
end
local finished = {completed = COMPLETED, failed = FAILED, expired = EXPIRED, cancelled = CANCELLED}
local zset = finished[state]
if zset then
  redis.call('DEL', job_key, job_key .. ':logs')
  redis.call('ZREM', zset, id)
end
return state
