-- workflow_add_node: add a task to the fan-in of a running workflow from inside one of its nodes (the Celery
-- front's `Task.add_to_chord`: a chord header task adds a signature to its own chord's header, and the
-- body waits for it too). The new node is a root feeding the fan-in node that node ARGV[1] feeds; its
-- result comes last in the fan-in's input. The caller enqueues the new node's job (pre-generated id).
-- The `graph` JSON gets the node and the fan-in its dep, as TypeScript would have written them
-- (lib/wf_wire_edit.lua), so a TypeScript reader sees the node too.
-- KEYS[1] the workflow hash `taskora:wf:{<id>}`
-- ARGV[1] the calling node's index, ARGV[2] the new node's task name, ARGV[3] its job id, ARGV[4] its node
-- object of the graph JSON (taskName, deps [], jobId, _v, data...)
-- Returns {'ok', new node index} when added; {'no-fan-in'} when the calling node feeds no fan-in node,
-- {'started'} when that fan-in node no longer waits (it is enqueued, ended or settled), {<state>} when the
-- workflow is not running, {'missing'} when the hash is gone, {'bad-graph'} when its graph JSON is not
-- the shape Python writes (nothing is changed).

--@include lib/wf_wire_edit

local wf = KEYS[1]
local caller, task, job, node_json = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local state = redis.call('HGET', wf, 'state')
if not state then
  return {'missing'}
end
if state ~= 'running' or redis.call('HEXISTS', wf, 'nodeCount') == 0 then
  return {state}
end
local fanin
for dep in string.gmatch(redis.call('HGET', wf, 'n:' .. caller .. ':next') or '', '[^,]+') do
  if redis.call('HGET', wf, 'n:' .. dep .. ':fanin') == '1' then
    fanin = dep
    break
  end
end
if not fanin then
  return {'no-fan-in'}
end
local fk = 'n:' .. fanin .. ':'
if redis.call('HGET', wf, fk .. 'state') ~= 'pending' then
  return {'started'}
end
local graph = wire_add_node(redis.call('HGET', wf, 'graph') or '', tonumber(fanin),
  redis.call('HGET', wf, 'nodeCount'), node_json)
if not graph then
  return {'bad-graph'}
end
local new = tostring(redis.call('HINCRBY', wf, 'nodeCount', 1) - 1)
redis.call('HSET', wf, 'graph', graph)
local nk = 'n:' .. new .. ':'
redis.call('HSET', wf, nk .. 'task', task, nk .. 'job', job, nk .. 'state', 'waiting', nk .. 'next', fanin)
local deps = redis.call('HGET', wf, fk .. 'deps') or ''
redis.call('HSET', wf, fk .. 'deps', deps == '' and new or deps .. ',' .. new)
redis.call('HINCRBY', wf, fk .. 'left', 1)
return {'ok', new}
