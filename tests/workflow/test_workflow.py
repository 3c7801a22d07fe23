"""Native workflows on both engines: chain, group, chord, nesting, map, chunk, failure, cancel, ttl."""

from __future__ import annotations

import threading

import pytest

from taskora import CancelledError, ConfigurationError, JobFailedError, chain, chord, group
from taskora.workflow import WorkflowHandle

FAST = {"stall": {"interval": 1}}


@pytest.fixture
def tasks(make_app):
    app = make_app()
    app.task("add", lambda d: d["x"] + d["y"], **FAST)
    app.task("double", lambda n: n * 2, **FAST)
    app.task("total", lambda xs: sum(xs), **FAST)
    app.task("ident", lambda v: v, **FAST)

    def boom(d):
        raise ValueError(f"boom {d}")

    app.task("boom", boom, **FAST)
    return app


def test_chain_pipes_each_output_into_the_next_step(tasks) -> None:
    add, double = tasks.get_task("add"), tasks.get_task("double")
    handle = chain(add.s({"x": 3, "y": 4}), double.s(), double.s()).dispatch()
    tasks.start()
    assert handle.result(timeout=10) == 28
    assert handle.state() == "completed"
    assert [n["state"] for n in handle.nodes()] == ["completed"] * 3


def test_pipe_and_bar_build_the_same_chain_and_bound_steps_ignore_input(tasks) -> None:
    add, double = tasks.get_task("add"), tasks.get_task("double")
    tasks.start()
    assert add.s({"x": 1, "y": 1}).pipe(double.s()).pipe(double.s()).dispatch().result(timeout=10) == 8
    assert (add.s({"x": 1, "y": 1}) | add.s({"x": 10, "y": 10}) | double.s()).dispatch().result(timeout=10) == 40


def test_group_results_keep_member_order(tasks) -> None:
    ident = tasks.get_task("ident")
    tasks.start()
    handle = group(ident.s(i) for i in range(20)).dispatch()
    assert handle.result(timeout=10) == list(range(20))


def test_a_finished_workflow_whose_final_jobs_were_trimmed_still_gives_its_result(tasks) -> None:
    # retention deletes completed jobs (last 100 kept); the workflow's own record keeps every node's result
    ident = tasks.get_task("ident")
    tasks.start()
    handle = group(ident.s(i) for i in range(5)).dispatch()
    assert handle.result(timeout=10) == list(range(5))
    for task, job_id in handle.terminal_jobs():
        tasks.adapter.client.delete(tasks.adapter.keys.job(task, job_id))
    assert WorkflowHandle(tasks, handle.id).result(timeout=3) == list(range(5))


def test_chord_body_receives_the_list_of_header_results(tasks) -> None:
    add, total = tasks.get_task("add"), tasks.get_task("total")
    tasks.start()
    handle = chord([add.s({"x": i, "y": i}) for i in range(10)], total.s()).dispatch()
    assert handle.result(timeout=10) == 90


def test_chord_of_chains_and_chain_containing_a_group(tasks) -> None:
    add, double, total = (tasks.get_task(n) for n in ("add", "double", "total"))
    tasks.start()
    nested = chord([chain(add.s({"x": 1, "y": 2}), double.s()), chain(add.s({"x": 5, "y": 5}), double.s())],
                   total.s())
    assert nested.dispatch().result(timeout=10) == 26
    fan = chain(add.s({"x": 2, "y": 3}), group(double.s(), double.s(), add.s({"x": 0, "y": 1})), total.s())
    assert fan.dispatch().result(timeout=10) == 21


def test_map_and_chunk(tasks) -> None:
    double = tasks.get_task("double")
    tasks.start()
    assert double.map([1, 2, 3]).result(timeout=10) == [2, 4, 6]
    handle = double.chunk(range(7), size=3)
    assert handle.result(timeout=10) == [0, 2, 4, 6, 8, 10, 12]
    nodes = handle.nodes()
    assert [n["deps"] for n in nodes[3:6]] == [[0, 1, 2]] * 3


def test_first_step_without_data_is_refused(tasks) -> None:
    with pytest.raises(ConfigurationError, match="needs bound data"):
        chain(tasks.get_task("double").s(), tasks.get_task("double").s()).dispatch()


def test_a_failing_node_fails_the_workflow_and_cancels_the_rest(tasks) -> None:
    add, double, boom = (tasks.get_task(n) for n in ("add", "double", "boom"))
    handle = chain(add.s({"x": 1, "y": 1}), boom.s(), double.s(), double.s()).dispatch()
    tasks.start()
    with pytest.raises(JobFailedError, match="ValueError: boom 2") as info:
        handle.result(timeout=10)
    assert info.value.job_id == handle.job_ids()[1]
    assert handle.state() == "failed"
    assert [n["state"] for n in handle.nodes()] == ["completed", "failed", "cancelled", "cancelled"]
    last = tasks.handle("double", handle.job_ids()[3])
    assert last.state() == "cancelled"
    with pytest.raises(CancelledError):
        last.result(timeout=5)


def test_cancel_cascades_to_the_active_and_pending_nodes(make_app) -> None:
    app = make_app()
    started, seen = threading.Event(), {}

    def slow(data, ctx):
        started.set()
        seen["aborted"] = ctx.signal.wait(10)
        return data

    slow_task = app.task("slow", slow, **FAST)
    after = app.task("after", lambda v: v, **FAST)
    handle = chain(slow_task.s(1), after.s(), after.s()).dispatch()
    app.start()
    assert started.wait(10)
    assert handle.cancel(reason="no longer needed") is True
    with pytest.raises(CancelledError):
        handle.result(timeout=10)
    assert handle.state() == "cancelled"
    first = app.handle("slow", handle.job_ids()[0])
    with pytest.raises(CancelledError):
        first.result(timeout=10)  # the active node's worker saw the cancel and ended it
    assert seen.get("aborted") is True
    assert app.handle("after", handle.job_ids()[2]).state() == "cancelled"
    assert handle.cancel() is False  # already over


def test_workflow_ttl_cancels_a_workflow_that_runs_too_long(make_app) -> None:
    app = make_app()
    release = threading.Event()
    app.task("stuck", lambda d: release.wait(10) and d, **FAST)
    nxt = app.task("next", lambda v: v, **FAST)
    handle = chain(app.get_task("stuck").s(1), nxt.s()).dispatch(ttl=0.3)
    app.start()
    try:
        with pytest.raises(CancelledError, match="ttl"):
            handle.result(timeout=15)
        assert handle.state() == "cancelled"
    finally:
        release.set()


def test_handle_by_id_and_asyncio_twins(tasks) -> None:
    import asyncio

    add, double = tasks.get_task("add"), tasks.get_task("double")
    dispatched = chain(add.s({"x": 2, "y": 2}), double.s()).dispatch(name="twins")
    tasks.start()
    again = WorkflowHandle(tasks, dispatched.id)
    assert again.result(timeout=10) == 8

    async def main() -> tuple[object, object]:
        h = group(double.s(1), double.s(2)).dispatch()
        return await h.aresult(timeout=10), await h.astate()

    assert asyncio.run(main()) == ([2, 4], "completed")


# The test ends a slot thread with an exception on purpose (a simulated process death): pytest reports it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_dying_between_advance_and_ack_still_completes_the_workflow_once(make_app) -> None:
    """The worker advances the workflow, then dies before its ack: the job is recovered by the stall
    sweep of another worker, runs again, advances again (a no-op), and no downstream job runs twice."""
    runs: dict[str, int] = {}
    lock = threading.Lock()

    def counted(name):
        def run(v):
            with lock:
                runs[name] = runs.get(name, 0) + 1
            return v + 1
        return run

    def build(app):
        app.task("first", counted("first"), stall={"interval": 0.5, "max_count": 3})
        app.task("second", counted("second"), **FAST)
        app.task("third", counted("third"), **FAST)
        return app

    dying, rescuer = build(make_app()), None
    real_ack, crashed = dying.adapter.ack, threading.Event()

    class ProcessDied(BaseException):
        """Ends the slot thread as a death would (a worker bug, an Exception, would fail the job instead)."""

    def ack_then_die(job, *args, **kwargs):
        dying.adapter.ack = real_ack  # only the first ack "crashes"
        crashed.set()
        raise ProcessDied("worker process died here")

    dying.adapter.ack = ack_then_die
    handle = chain(dying.get_task("first").s(1), dying.get_task("second").s(), dying.get_task("third").s()).dispatch()
    dying.start(tasks=["first"], concurrency=1)
    assert crashed.wait(10)
    rescuer = build(make_app())
    rescuer.start()
    assert handle.result(timeout=20) == 4
    assert rescuer.handle("first", handle.job_ids()[0]).result(timeout=20) == 2  # recovered and re-run
    assert runs["first"] == 2 and runs["second"] == 1 and runs["third"] == 1


def test_inspector_lists_workflows_and_shows_nodes(tasks) -> None:
    from taskora.workflow.inspect import list_workflows, show_workflow

    add, double = tasks.get_task("add"), tasks.get_task("double")
    tasks.start()
    h = chain(add.s({"x": 1, "y": 2}), double.s()).dispatch(name="inspected")
    h.result(timeout=10)
    listed = list_workflows(tasks)
    assert [w["id"] for w in listed][:1] == [h.id]
    assert listed[0]["state"] == "completed" and listed[0]["name"] == "inspected" and listed[0]["nodes"] == 2
    detail = show_workflow(tasks, h.id)
    assert detail["result"] == 6
    assert [(n["task"], n["state"]) for n in detail["nodes"]] == [("add", "completed"), ("double", "completed")]
    assert detail["graph"]["nodes"][1]["deps"] == [0]
