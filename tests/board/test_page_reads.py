"""The board's bounded list reads (adapters/page_reads.py) on both engines: the same ids and rows as the
unbounded reads they replace, slice by slice."""

from __future__ import annotations

from taskora import Taskora


def test_waiting_ids_are_the_claim_order_slice_of_every_waiting_job(app: Taskora) -> None:
    app.register_task("t", None)
    plain = [app.dispatch("t", n).id for n in range(5)]
    urgent = [app.dispatch("t", f"urgent {n}", priority=n + 1).id for n in range(3)]
    background = [app.dispatch("t", f"background {n}", priority=-1 - n).id for n in range(2)]
    claim_order = urgent[::-1] + plain + background  # priorities above 0, the FIFO list, priorities below 0
    assert app.adapter.list_ids("t", "waiting") == claim_order
    assert app.adapter.list_ids("t", "waiting", 3) == claim_order[3:]
    for start in range(11):
        for stop in range(start, 12):
            assert app.adapter.waiting_ids("t", start, stop) == claim_order[start:stop + 1], (start, stop)


def test_waiting_ids_without_prioritized_jobs(app: Taskora) -> None:
    app.register_task("t", None)
    ids = [app.dispatch("t", n).id for n in range(4)]
    assert app.adapter.waiting_ids("t", 0, 49) == ids  # oldest first, the order a worker claims them
    assert app.adapter.waiting_ids("t", 1, 2) == ids[1:3] and app.adapter.waiting_ids("t", 4, 10) == []


def test_job_rows_read_the_named_fields_and_mark_a_gone_job(app: Taskora) -> None:
    app.register_task("t", None)
    kept = app.dispatch("t", {"big": "x" * 1000}).id
    rows = app.adapter.job_rows("t", [kept, "gone"], ("attempt", "ts", "error"))
    assert rows[1] is None and rows[0] is not None
    assert rows[0]["state"] == "waiting" and rows[0]["error"] is None and int(rows[0]["ts"]) > 0
    assert "data" not in rows[0]
    assert app.adapter.job_rows("t", [], ("ts",)) == []
