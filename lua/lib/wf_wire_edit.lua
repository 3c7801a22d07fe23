-- Editing the `graph` JSON of a workflow Python made, inlined by `workflow_add_node.lua`, so a TypeScript
-- reader (the board, a TypeScript worker) sees a node added while the workflow runs.
-- The edit is a splice of the text, not a decode and encode (Redis' cjson writes an empty array as `{}`
-- and reorders keys). It relies on how Python writes the graph (taskora/workflow/graph.py, `to_wire`):
-- compact separators, each node an object starting with `{"taskName":` followed by its `"deps":[...]`
-- (integers only), and the nodes array followed by `],"terminal":`. Inside a JSON string every `"` is
-- escaped, so those markers, which hold bare quotes, only occur where the structure puts them.
-- luacheck: push ignore 211 (helpers a including script may not use)

local NODE_START = '{"taskName":'

-- The position just past the `[` of node `index`'s (0-based) deps array, or nil.
local function wire_deps_open(graph, index)
  local at = 0
  for _ = 0, index do
    at = string.find(graph, NODE_START, at + 1, true)
    if not at then
      return nil
    end
  end
  local _, open = string.find(graph, '"deps":[', at, true)
  return open
end

-- `graph` with `dep` appended to node `index`'s deps and `node_json` appended to the nodes array;
-- nil when the text is not in the shape above (the caller then leaves the graph as it was).
local function wire_add_node(graph, index, dep, node_json)
  local open = wire_deps_open(graph, index)
  local close = open and string.find(graph, ']', open + 1, true)
  local nodes_end = string.find(graph, '],"terminal":', 1, true)
  if not close or not nodes_end or nodes_end < close then
    return nil
  end
  local sep = close == open + 1 and '' or ','
  local edited = string.sub(graph, 1, close - 1) .. sep .. dep .. string.sub(graph, close, nodes_end - 1)
  return edited .. ',' .. node_json .. string.sub(graph, nodes_end)
end
-- luacheck: pop
