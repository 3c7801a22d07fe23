-- workflow_advance: record that a workflow node completed and find the nodes it makes ready.
-- KEYS[1] the workflow hash `taskora:wf:{<id>}`
-- ARGV[1] now ms, ARGV[2] node index, ARGV[3] serialized result, ARGV[4] keep ms (PEXPIRE once final),
-- ARGV[5] '1' when results are JSON text: a list result (a group) is then stored as the JSON array of the
-- terminal results, as TypeScript stores it (otherwise readers assemble it from n:<i>:result)
-- Node fields (written at dispatch): n:<i>:task, :job, :left (deps not yet completed), :next
-- (comma list of dependents), :deps (comma list), :state (pending|waiting|completed|failed|cancelled),
-- :mode, :data, :fanin, :meta, :terminal.
-- Returns {wf state, ready count, then per ready node: idx, task, job id, mode, data, fanin, meta,
-- dep count, dep results...}. A node already completed (a re-run after a crash between advance and
-- ack) is not counted twice, but its ready dependents are returned again: the caller's enqueue
-- with the pre-generated ids is idempotent. Nothing is made ready once the workflow failed or was
-- cancelled. Returns {'missing'} when the workflow hash is gone. A workflow the TypeScript taskora made
-- (no `nodeCount`: its topology is only in the `graph` JSON) advances as lib/wf_graph.lua says.
-- A running workflow with a failed node (the 'fail' cascade, lib/wf_dependents.lua) answers 'failing' for
-- its state: the caller then settles what this completion unblocks with workflow_fail ('advanced').

--@include lib/wf_graph

-- The workflow's `result` once it completed: the one terminal's result, or the JSON array of the
-- terminals' results for a list result (a group), when they are JSON.
local function store_result(wf, last, json)
  local f = redis.call('HMGET', wf, 'terminalCount', 'listResult', 'terminals')
  if f[2] ~= '1' then
    if f[1] == '1' then
      redis.call('HSET', wf, 'result', last)
    end
  elseif json then
    local results = {}
    for t in string.gmatch(f[3] or '', '[^,]+') do
      results[#results + 1] = redis.call('HGET', wf, 'n:' .. t .. ':result') or 'null'
    end
    redis.call('HSET', wf, 'result', '[' .. table.concat(results, ',') .. ']')
  end
end

local wf = KEYS[1]
local now, idx, result, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local state = redis.call('HGET', wf, 'state')
if not state then
  return {'missing'}
end
if redis.call('HEXISTS', wf, 'nodeCount') == 0 then -- made by TypeScript: see lib/wf_graph.lua
  return advance_from_graph(wf, idx, result, state)
end
local nk = 'n:' .. idx .. ':'
local first = redis.call('HGET', wf, nk .. 'state') ~= 'completed'
if first then
  redis.call('HSET', wf, nk .. 'state', 'completed', nk .. 'result', result)
end
if state ~= 'running' and state ~= 'completed' then
  return {state, '0'}
end

local failing = state == 'running' and redis.call('HEXISTS', wf, 'failedNode') == 1
if first and not failing and redis.call('HGET', wf, nk .. 'terminal') == '1' then
  local left = redis.call('HINCRBY', wf, 'terminalLeft', -1)
  if left <= 0 and state == 'running' then
    state = 'completed'
    redis.call('HSET', wf, 'state', 'completed', 'finishedOn', now)
    store_result(wf, result, ARGV[5] == '1')
    redis.call('PEXPIRE', wf, keep)
  end
end

local reply = {state, '0'}
local ready = 0
local nexts = redis.call('HGET', wf, nk .. 'next') or ''
for dep in string.gmatch(nexts, '[^,]+') do
  local dk = 'n:' .. dep .. ':'
  local left
  if first then
    left = redis.call('HINCRBY', wf, dk .. 'left', -1)
  else
    left = tonumber(redis.call('HGET', wf, dk .. 'left') or '0')
  end
  local dstate = redis.call('HGET', wf, dk .. 'state')
  if left <= 0 and (dstate == 'pending' or dstate == 'waiting') then
    redis.call('HSET', wf, dk .. 'state', 'waiting')
    local f = redis.call('HMGET', wf, dk .. 'task', dk .. 'job', dk .. 'mode', dk .. 'data', dk .. 'fanin',
      dk .. 'meta', dk .. 'deps')
    reply[#reply + 1] = dep
    for i = 1, 6 do
      reply[#reply + 1] = f[i] or ''
    end
    local results = {}
    for d in string.gmatch(f[7] or '', '[^,]+') do
      results[#results + 1] = redis.call('HGET', wf, 'n:' .. d .. ':result') or ''
    end
    reply[#reply + 1] = tostring(#results)
    for _, r in ipairs(results) do
      reply[#reply + 1] = r
    end
    ready = ready + 1
  end
end
reply[2] = tostring(ready)
if failing then
  reply[1] = 'failing'
end
return reply
