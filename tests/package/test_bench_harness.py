"""The benchmark harness's own logic (bench/): tables, ratio columns, latency-under-load rate, charts.

No timing here: these check what the harness computes and prints from measured numbers, so that a
table cannot silently compare against the wrong peer or hide why a cell is empty.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.__main__ import _load_args
from tests.paths import ROOT as REPO


def _results() -> dict:
    return {
        "taskora": {"enqueue_bulk": [{"jobs_per_s": 3000.0}], "latency": [{"rt_p50_ms": 0.5}]},
        "huey": {"enqueue_bulk": [{"unsupported": "no bulk enqueue"}], "latency": [{"rt_p50_ms": 0.4}]},
        "rq": {"enqueue_bulk": [{"jobs_per_s": 2000.0}], "latency": [{"rt_p50_ms": "results ignored"}]},
        "celery": {"enqueue_bulk": [{"jobs_per_s": 1000.0}], "latency": [{"rt_p50_ms": 4.0}]},
    }


def _row(text: str, label: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_table_divides_taskora_by_the_best_peer_of_each_row() -> None:
    text = report.table(_results(), {}, ["taskora", "huey", "rq", "celery"], 1,
                        ["enqueue_bulk", "latency"], "stored")
    head = _row(text, "scenario")
    bulk = dict(zip(head, _row(text, "enqueue, bulk (batches of 50)"), strict=True))
    assert bulk["taskora ÷ best peer"] == "1.50×"  # rq's 2,000 is the best peer for jobs/s
    assert bulk["taskora ÷ celery"] == "3.00×"
    rt = dict(zip(head, _row(text, "round trip p50"), strict=True))
    assert rt["taskora ÷ best peer"] == "1.25×"  # huey's 0.4 ms is the best (lowest) peer


def test_a_cell_without_a_number_says_why() -> None:
    text = report.table(_results(), {}, ["taskora", "huey", "rq", "celery"], 1,
                        ["enqueue_bulk", "latency"], "stored")
    head = _row(text, "scenario")
    assert dict(zip(head, _row(text, "enqueue, bulk (batches of 50)"), strict=True))["huey"] == "*no bulk enqueue*"
    assert dict(zip(head, _row(text, "round trip p50"), strict=True))["rq"] == "*results ignored*"


def test_a_failed_cell_says_error_not_a_reason() -> None:
    results = {"taskora": {}, "celery": {"enqueue_bulk": [{"jobs_per_s": 1.0}]}}
    text = report.table(results, {"taskora/enqueue_bulk/stored": ["run 1: boom"]}, ["taskora", "celery"], 1,
                        ["enqueue_bulk"], "stored")
    assert _row(text, "enqueue, bulk (batches of 50)")[2] == "error"


def test_load_rate_is_half_the_lower_of_enqueue_and_the_best_pool() -> None:
    args = argparse.Namespace(load_seconds=None, load_rate=None)
    so_far = {"enqueue_single": [{"jobs_per_s": 9000.0}], "process_c1": [{"jobs_per_s": 1000.0}],
              "process_prefork2": [{"jobs_per_s": 3000.0}], "process_threads100": [{"unsupported": "x"}]}
    assert _load_args(args, so_far) == ["--rate", "1500.0", "--pool", "prefork:2"]
    so_far["enqueue_single"] = [{"jobs_per_s": 2000.0}]  # one producer is the limit now
    assert _load_args(args, so_far)[:2] == ["--rate", "1000.0"]


def test_load_without_measurements_lets_the_scenario_measure() -> None:
    args = argparse.Namespace(load_seconds=5.0, load_rate=None)
    assert _load_args(args, {"enqueue_single": [{"jobs_per_s": 10.0}]}) == ["--load-seconds", "5.0"]


def test_one_load_rate_for_every_library_overrides_the_measured_one() -> None:
    args = argparse.Namespace(load_seconds=None, load_rate=1800.0)
    so_far = {"enqueue_single": [{"jobs_per_s": 9000.0}], "process_c1": [{"jobs_per_s": 1000.0}]}
    assert _load_args(args, so_far) == ["--rate", "1800.0"]
    doc = {"mode": "full", "runs": 1, "date": "today", "libs": ["taskora"], "scenarios": ["latency_load"],
           "result_modes": ["stored"], "results": {}, "errors": {}, "skipped": {}, "load_seconds": 30,
           "load_rate": 1800.0, "machine": {"cpus": 2, "cpu": "x", "system": "x", "python": "3.11",
                                            "redis_server": "x", "packages": {}}}
    assert "at 1,800 jobs/s for every library" in report.render(doc)


def test_charts_are_svg_files_next_to_the_table(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bench import charts

    doc = {"mode": "quick", "runs": 1, "date": "today", "libs": ["taskora", "huey", "rq", "celery"],
           "scenarios": ["enqueue_bulk", "latency", "memory"], "result_modes": ["stored"],
           "results": {"stored": _results()}}
    written = charts.write_all(doc, tmp_path / "latest")
    assert [p.name for p in written] == ["latest-stored-enqueue_bulk.svg", "latest-stored-latency.svg"]
    assert written[0].read_text().lstrip().startswith("<?xml")


def test_bad_results_mode_is_refused_by_name() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--results", "stored,kept"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "kept" in done.stderr


def test_an_app_refuses_an_unknown_results_mode() -> None:
    code = "import bench.appenv"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "BENCH_RESULTS": "maybe"})
    assert done.returncode == 1
    assert "BENCH_RESULTS='maybe'" in done.stderr


def test_no_ratio_against_a_negative_memory_delta() -> None:
    results = {"taskora": {"memory": [{"completed_bytes_per_job": 160.0}]},
               "huey": {"memory": [{"completed_bytes_per_job": -14.0}]},
               "celery": {"memory": [{"completed_bytes_per_job": 400.0}]}}
    text = report.table(results, {}, ["taskora", "huey", "celery"], 1, ["memory"], "stored")
    row = dict(zip(_row(text, "scenario"), _row(text, "Redis memory per completed job"), strict=True))
    assert row["taskora ÷ best peer"] == "0.40×"  # against celery's 400 B, not huey's -14 B


def test_best_on_two_cores_names_the_pool_each_library_ran() -> None:
    results = {"taskora": {"process_best": [{"jobs_per_s": 20000.0, "pool": "prefork 4"}]},
               "dramatiq": {"process_best": [{"jobs_per_s": 10000.0, "pool": "prefork 4"}]},
               "taskiq": {"process_best": [{"jobs_per_s": 7000.0, "pool": "hybrid 16"}]}}
    doc = {"mode": "full", "runs": 1, "date": "today", "libs": ["taskora", "dramatiq", "taskiq"],
           "scenarios": ["process_best"], "result_modes": ["ignored"], "results": {"ignored": results},
           "errors": {}, "machine": {"cpus": 2, "cpu": "x", "system": "Linux", "python": "3.11",
                                     "redis_server": "7", "packages": {}}}
    text = report.render(doc)
    row = dict(zip(_row(text, "scenario"), _row(text, "process, best on 2 cores (pools below)"), strict=True))
    assert row["taskora ÷ best peer"] == "2.00×"
    assert "Best on 2 cores ran: taskora `prefork 4`, dramatiq `prefork 4`, taskiq `hybrid 16`" in text


def test_the_sweep_names_each_librarys_fastest_pool_and_why_a_pool_is_missing() -> None:
    from bench import config, sweep

    labels = [f"{pool} {concurrency}" for pool, concurrency in config.SWEEP_POOLS]
    found = {"huey": {label: [1000.0, 3000.0, 2000.0] for label in labels},
             "rq": {label: ["no thread pool"] if label == "threads 100" else [500.0] for label in labels}}
    found["huey"]["prefork 8"] = [4000.0, 1.0, 5000.0]  # median 4,000: the fastest
    found["huey"]["hybrid 16"] = [9000.0, "boom"]  # a run with no number: no median to compare
    args = argparse.Namespace(mode="full", results="ignored", runs=3)
    text = sweep.render(found, args, {"cpus": 2, "python": "3.11", "redis_server": "7"})
    huey = dict(zip(["library", *labels, "fastest"], _row(text, "huey"), strict=True))
    assert (huey["prefork 8"], huey["prefork 2"], huey["fastest"]) == ("4,000", "2,000", "prefork 8")
    assert huey["hybrid 16"] == "*boom*"
    assert dict(zip(["library", *labels], _row(text, "rq")[:-1], strict=True))["threads 100"] == "*no thread pool*"


def test_the_hybrid_pool_is_two_processes_or_a_reason() -> None:
    from bench.lib_dramatiq import DramatiqDriver
    from bench.lib_taskora import TaskoraDriver
    from bench.unsupported import Unsupported

    argv = DramatiqDriver.worker_argv("hybrid", 16)
    assert argv[argv.index("-p") + 1:argv.index("-p") + 4] == ["2", "-t", "8"]
    with pytest.raises(Unsupported, match="no processes with several slots each"):
        TaskoraDriver.worker_argv("hybrid", 16)


def test_a_tool_can_pass_one_more_option_to_the_worker_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import scenarios

    started: list[list[str]] = []
    monkeypatch.setattr(scenarios, "Worker", lambda argv, env: started.append(argv))
    scenarios.start_worker("compat", "prefork", 2, "redis://127.0.0.1:1/0", None, ["--prefetch-multiplier", "64"])
    scenarios.start_worker("compat", "prefork", 2, "redis://127.0.0.1:1/0", None)
    with_option, plain = started
    assert with_option == [*plain, "--prefetch-multiplier", "64"]
    assert plain[plain.index("-P"):plain.index("-P") + 4] == ["-P", "prefork", "-c", "2"]


def test_every_process_pool_is_a_scenario_with_a_row_and_a_floor() -> None:
    from bench import config, scenarios

    for name in config.PROCESS_POOLS:
        assert name in scenarios.SCENARIOS and name in config.SCENARIOS
        assert any(metric[0] == name for metric in report.METRICS)
        assert any(floor[0] == name for floor in report.FLOORS)
    assert config.PROCESS_POOLS["process_prefork1"] == ("prefork", 1)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two usable CPUs")
def test_the_bare_pickup_consumer_runs_where_the_workers_run(redis_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The floor's consumer plays a worker: with ``--pin`` it must pay the same cross-CPU wake-up."""
    from bench import bare_pickup, pinning

    worker_cpu = max(os.sched_getaffinity(0))
    monkeypatch.setenv(pinning.WORKER_CPUS_ENV, str(worker_cpu))
    consumer = bare_pickup.start_consumer(redis_url, "bench:test-floor", 1)
    try:
        assert os.sched_getaffinity(consumer.pid) == {worker_cpu}
    finally:
        consumer.kill()
        consumer.communicate()


def test_pickup_ab_divides_each_side_by_the_floor_measured_beside_it() -> None:
    from bench import pickup_ab

    pickups = {"floor": [0.0002] * 9, "a": [0.0003] * 9, "b": [0.0005] * 9}
    text = pickup_ab.table(pickups, {"a": "A: old", "b": "B: new"})
    assert _row(text, "bare LPUSH → BLPOP")[1:] == ["0.200", "0.200", "0.200", "1.00"]
    assert _row(text, "A: old")[-1] == "1.50" and _row(text, "B: new")[-1] == "2.50"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two usable CPUs")
def test_pickup_ab_runs_the_workers_of_two_checkouts_side_by_side(tmp_path: Path) -> None:
    """Side B's worker runs the other checkout's code (there, its handler's stamp also leaves a file behind), and
    on the pool ``--pool-b`` names."""
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{REPO}", str(other)], check=True)
    left_behind = tmp_path / "ran-from-the-other-checkout"
    stamps = other / "bench" / "stamps.py"
    stamps.write_text(stamps.read_text() + f"\n_first = stamp\n\n\ndef stamp(data, started_at):\n"
                      f"    open({str(left_behind)!r}, 'w').close()\n    _first(data, started_at)\n")
    run = subprocess.run([sys.executable, "-m", "bench.pickup_ab", "--b", str(other), "--pool-b", "threads:7",
                          "--jobs", "5", "--rate", "100"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"| B: {other.resolve()}, -P threads -c 7 |" in run.stdout
    assert f"| A: {REPO}, -P threads -c 10 |" in run.stdout
    assert left_behind.exists()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two usable CPUs")
def test_pickup_ab_runs_another_library_as_side_b() -> None:
    """``--b-lib``: side B is that library's own worker command, dispatched to by its own client, on its own Redis
    (its pickups are all there, or the run would have waited for the missing stamps and failed). The Celery front
    stands in for the peers here: it takes the same path (bench/scenarios.py's driver and worker) and is always
    installed, where Huey and the others are benchmark requirements only."""
    run = subprocess.run([sys.executable, "-m", "bench.pickup_ab", "--b-lib", "compat", "--jobs", "5", "--rate", "100"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "| B: compat, -P threads -c 10 |" in run.stdout
    assert f"| A: {REPO}, -P threads -c 10 |" in run.stdout


def test_a_worker_started_twice_runs_one_process(tmp_path: Path) -> None:
    # ``with start_worker(...).start() as w`` starts it, and entering the block starts it again: the second process
    # consumed beside the first, unwatched, and outlived the block (a throw-away script measured two workers so).
    from bench.workers import Worker

    worker = Worker([sys.executable, "-c", "import time; time.sleep(60)"], dict(os.environ), cwd=tmp_path)
    with worker.start() as running:
        first = running.proc
        assert worker.start().proc is first
    assert first is not None and first.poll() is not None
