-- Celery's failure semantics for a workflow (the `cascade` field 'fail', set by taskora.compat), inlined by
-- `workflow_fail.lua`: a failed node settles only the nodes that can never run (its dependents, once every
-- dep of theirs has ended), independent nodes run to their end, and the workflow ends failed, with the
-- first failure's error, when every node has ended. The native cascade ('cancel', as the TypeScript
-- taskora does) ends the workflow and settles every open node at the first failure instead.
-- luacheck: push ignore 211 (helpers a including script may not use)

local function wf_ended(s)
  return s == 'completed' or s == 'failed' or s == 'cancelled'
end

-- Whether node `i` can be settled now: still open, every dep ended and at least one did not complete.
local function wf_doomed(wf, i)
  local nk = 'n:' .. i .. ':'
  local s = redis.call('HGET', wf, nk .. 'state')
  if s ~= 'pending' and s ~= 'waiting' then
    return false
  end
  local failed_dep = false
  for d in string.gmatch(redis.call('HGET', wf, nk .. 'deps') or '', '[^,]+') do
    local ds = redis.call('HGET', wf, 'n:' .. d .. ':state')
    if not wf_ended(ds) then
      return false
    end
    failed_dep = failed_dep or ds ~= 'completed'
  end
  return failed_dep
end

-- Settle (mark cancelled, append to `reply` in workflow_fail's shape) every dependent of node `idx` that
-- can no longer run, and theirs in turn. Returns nothing; `reply` grows.
local function wf_settle_dependents(wf, idx, reply)
  local todo = {idx}
  while #todo > 0 do
    local nk = 'n:' .. table.remove(todo) .. ':'
    for dep in string.gmatch(redis.call('HGET', wf, nk .. 'next') or '', '[^,]+') do
      if wf_doomed(wf, dep) then
        local dk = 'n:' .. dep .. ':'
        local s = redis.call('HGET', wf, dk .. 'state')
        redis.call('HSET', wf, dk .. 'state', 'cancelled')
        local f = redis.call('HMGET', wf, dk .. 'task', dk .. 'job', dk .. 'fanin')
        for _, v in ipairs({dep, f[1], f[2], s, f[3] or '0'}) do
          reply[#reply + 1] = v
        end
        todo[#todo + 1] = dep
      end
    end
  end
end

local function wf_all_ended(wf)
  local count = tonumber(redis.call('HGET', wf, 'nodeCount') or '0')
  for i = 0, count - 1 do
    if not wf_ended(redis.call('HGET', wf, 'n:' .. i .. ':state')) then
      return false
    end
  end
  return true
end

-- Node `idx` failed (final 'failed') or completed (final 'advanced', called when workflow_advance answered
-- 'failing') in a running workflow with the 'fail' cascade. Records the first failure, settles what can
-- no longer run and ends the workflow when every node has ended.
-- Returns {'ok', settled nodes...} when this call ended the workflow, else {'open', settled nodes...}.
local function wf_fail_dependents(wf, now, final, idx, err, keep, detail)
  if final == 'failed' then
    redis.call('HSET', wf, 'n:' .. idx .. ':state', 'failed')
    if redis.call('HEXISTS', wf, 'failedNode') == 0 then
      redis.call('HSET', wf, 'failedNode', idx, 'error', err)
      if detail ~= '' then
        redis.call('HSET', wf, 'errorDetail', detail)
      end
    end
  end
  local reply = {'open'}
  wf_settle_dependents(wf, idx, reply)
  if wf_all_ended(wf) then
    redis.call('HSET', wf, 'state', 'failed', 'finishedOn', now)
    redis.call('PEXPIRE', wf, keep)
    reply[1] = 'ok'
  end
  return reply
end
-- luacheck: pop
