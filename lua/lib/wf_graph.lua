-- Advancing a workflow made by the TypeScript taskora, inlined by `workflow_advance.lua`.
-- TypeScript keeps a workflow's topology only in the `graph` JSON
-- ({"nodes":[{taskName, deps, jobId, _v, data?}], "terminal":[...], "name"}) plus `n:<i>:state` and
-- `n:<i>:result`; the per-node fields Python writes (n:<i>:task, :next, :left...) are absent. This walks
-- the graph the way TypeScript's own advance does, so either side's worker moves such a workflow on:
-- a node is ready when it is `pending` and every dep `completed` (then marked `active`, as TypeScript
-- marks it); the workflow completes when every terminal node has, with `result` the terminal's result,
-- or the JSON array of the terminals' results when there are several (a group).
-- luacheck: push ignore 211 (helpers a including script may not use)

-- The node's state and result fields (graph indexes are 0-based; Lua tables 1-based).
local function wf_node_state(wf, i)
  return redis.call('HGET', wf, 'n:' .. i .. ':state')
end

local function wf_all_completed(wf, list)
  for _, d in ipairs(list) do
    if wf_node_state(wf, d) ~= 'completed' then
      return false
    end
  end
  return true
end

-- The JSON results of nodes `list`, in order.
local function wf_results(wf, list)
  local out = {}
  for _, d in ipairs(list) do
    out[#out + 1] = redis.call('HGET', wf, 'n:' .. d .. ':result') or 'null'
  end
  return out
end

-- The reply entries of one ready node, in workflow_advance's shape: idx, task, job id, mode, data,
-- fanin, meta, dep count, dep results. A node with its own `data` is bound (ignores its input); one
-- with several deps takes the array of their results (a chord callback).
local function wf_ready_entry(wf, i, node)
  local bound = type(node.data) == 'string'
  local fanin = #node.deps > 1
  local entry = {tostring(i), node.taskName, node.jobId, bound and 'bound' or 'pipe',
    bound and node.data or '', fanin and '1' or '', cjson.encode({v = tonumber(node._v) or 1})}
  local results = wf_results(wf, node.deps)
  entry[#entry + 1] = tostring(#results)
  for _, r in ipairs(results) do
    entry[#entry + 1] = r
  end
  return entry
end

local function wf_complete_if_done(wf, graph, state)
  if state ~= 'running' or not wf_all_completed(wf, graph.terminal) then
    return state
  end
  local results = wf_results(wf, graph.terminal)
  local result = results[1]
  if #results > 1 then
    result = '[' .. table.concat(results, ',') .. ']'
  end
  redis.call('HSET', wf, 'state', 'completed', 'result', result)
  return 'completed'
end

-- Whether node `i`, a dependent of the node `idx` that just completed, is to be returned as ready:
-- pending with every dep completed; on a repeated advance (a re-run after a crash between advance and
-- enqueue) also one already marked active, as the caller's enqueue under the node's pre-generated job
-- id is idempotent.
local function wf_is_ready(wf, i, node, idx, repeated)
  local needs_idx = false
  for _, d in ipairs(node.deps) do
    needs_idx = needs_idx or tostring(d) == idx
  end
  if not needs_idx then
    return false
  end
  local s = wf_node_state(wf, i)
  return (s == 'pending' or (repeated and s == 'active')) and wf_all_completed(wf, node.deps)
end

-- Record node `idx` completed with `result` and return {state, ready count, ready entries...}.
local function advance_from_graph(wf, idx, result, state)
  local repeated = wf_node_state(wf, idx) == 'completed'
  if not repeated then
    redis.call('HSET', wf, 'n:' .. idx .. ':state', 'completed', 'n:' .. idx .. ':result', result)
  end
  if state ~= 'running' then
    return {state, '0'}
  end
  local graph = cjson.decode(redis.call('HGET', wf, 'graph'))
  local reply = {'running', '0'}
  local ready = 0
  for pos, node in ipairs(graph.nodes) do
    local i = pos - 1
    if wf_is_ready(wf, i, node, idx, repeated) then
      redis.call('HSET', wf, 'n:' .. i .. ':state', 'active')
      for _, v in ipairs(wf_ready_entry(wf, i, node)) do
        reply[#reply + 1] = v
      end
      ready = ready + 1
    end
  end
  reply[1] = wf_complete_if_done(wf, graph, state)
  reply[2] = tostring(ready)
  return reply
end
-- luacheck: pop
