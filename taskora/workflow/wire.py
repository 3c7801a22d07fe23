"""Reading the wire ``graph`` JSON of a workflow the TypeScript taskora made.

TypeScript stores a workflow's topology only there (``{"nodes":[{taskName, deps, jobId, _v, data?}],
"terminal":[...], "name"}``); a Python-made workflow also has per-node hash fields, which the rest of
taskora/workflow/ reads. This is what a Python producer or inspector needs from a TypeScript-made one.
"""

from __future__ import annotations

import json

from ..errors import TaskoraError


def wire_terminals(graph_json: str) -> list[tuple[str, str]]:
    """(task, job id) of the graph's terminal nodes, in order: the nodes whose results are the workflow's."""
    try:
        graph = json.loads(graph_json)
        nodes = graph["nodes"]
        return [(str(nodes[i]["taskName"]), str(nodes[i]["jobId"])) for i in graph["terminal"]]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise TaskoraError(f"the workflow's graph JSON is not the wire v6 shape ({exc!r}): "
                           f"{graph_json[:200]!r}") from exc
