-- workflow_fail: end a running workflow as failed (a node failed for good) or cancelled, and list
-- every node that has not finished so the caller can settle its job.
-- KEYS[1] the workflow hash `taskora:wf:{<id>}`
-- ARGV[1] now ms, ARGV[2] final state ('failed' | 'cancelled', or 'advanced': node ARGV[3] completed in a
-- failing workflow), ARGV[3] node index that caused it ('' = none, e.g. a cancel from a handle), ARGV[4]
-- error text or cancel reason, ARGV[5] keep ms, ARGV[6] error detail ('' = none)
-- Returns {'ok', then per unfinished node: idx, task, job id, previous node state, fan-in '1'/'0'} when this
-- call ended the workflow, or {<state>} when it was already final (the call is then a no-op, so a
-- resent or racing fail/cancel settles nothing twice). {'missing'} when the hash is gone.
-- A workflow with the 'fail' cascade (Celery's) fails node by node instead (lib/wf_dependents.lua): a
-- failure or a completion settles only the nodes that can no longer run, replying {'open', nodes...}
-- until every node has ended, then {'ok', nodes...}.

--@include lib/wf_dependents

local wf = KEYS[1]
local now, final, idx, err, keep, detail = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local state = redis.call('HGET', wf, 'state')
if not state then
  return {'missing'}
end
local celery = redis.call('HGET', wf, 'cascade') == 'fail'
if state == 'running' and idx ~= '' and final ~= 'cancelled' and celery then
  return wf_fail_dependents(wf, now, final, idx, err, keep, detail)
end
if final == 'advanced' then
  return {state}
end
if idx ~= '' then
  redis.call('HSET', wf, 'n:' .. idx .. ':state', final)
end
if state ~= 'running' then
  return {state}
end
redis.call('HSET', wf, 'state', final, 'finishedOn', now, 'error', err)
if idx ~= '' then
  redis.call('HSET', wf, 'failedNode', idx)
end
if detail ~= '' then
  redis.call('HSET', wf, 'errorDetail', detail)
end
local reply = {'ok'}
local count = tonumber(redis.call('HGET', wf, 'nodeCount') or '0')
for i = 0, count - 1 do
  local nk = 'n:' .. i .. ':'
  local s = redis.call('HGET', wf, nk .. 'state')
  if s == 'pending' or s == 'waiting' then
    redis.call('HSET', wf, nk .. 'state', 'cancelled')
    local f = redis.call('HMGET', wf, nk .. 'task', nk .. 'job', nk .. 'fanin')
    reply[#reply + 1] = tostring(i)
    reply[#reply + 1] = f[1]
    reply[#reply + 1] = f[2]
    reply[#reply + 1] = s
    reply[#reply + 1] = f[3] or '0'
  end
end
redis.call('PEXPIRE', wf, keep)
return reply
