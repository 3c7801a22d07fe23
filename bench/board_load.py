"""``python -m bench.board_load [--jobs 1000000] [--repeats 30] [--browser]``: how fast the board answers with
many jobs.

Starts a throw-away redis-server, runs a few hundred real jobs through a worker (so their hashes are exactly
what the engine writes), then clones one of those completed hashes under fresh ids until the task holds
``--jobs`` completed jobs (a pipeline: filling a million through the worker would measure the worker, not
the board). Serves the board with uvicorn and times each page's HTTP requests from a client: the median and
the 95th percentile over ``--repeats`` requests, after one warm-up. ``--browser`` also times whole page
loads in headless Chromium (Playwright on the system browser): from navigation to the page's data drawn.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import time
import uuid
from typing import Any

import httpx
import uvicorn

from taskora import Taskora
from taskora.board import create_board

from .redis_server import RedisServer

TASK = "report"
PASSWORD = "bench"
REAL_JOBS = 200
PIPELINE = 5000


def fill(app: Taskora, jobs: int) -> tuple[str, float]:
    """``jobs`` completed jobs of TASK (REAL_JOBS of them real); returns one real job's id and the seconds taken."""
    started = time.perf_counter()
    app.task(TASK, lambda data: {"rows": data, "status": "ok"})
    app.start()
    handles = app.get_task(TASK).dispatch_many(range(min(REAL_JOBS, jobs)))
    for handle in handles:
        handle.result(timeout=60)
    app.close(timeout=5)
    template: dict[Any, Any] = app.adapter.client.hgetall(app.adapter.keys.job(TASK, handles[0].id))
    completed, finished = app.adapter.keys.state_set(TASK, "completed"), int(template[b"finishedOn"])
    pipe = app.adapter.client.pipeline(transaction=False)
    for n in range(jobs - len(handles)):
        job_id = str(uuid.uuid4())
        pipe.hset(app.adapter.keys.job(TASK, job_id), mapping=template)
        pipe.zadd(completed, {job_id: finished - n})
        if n % PIPELINE == PIPELINE - 1:
            pipe.execute()
    pipe.execute()
    return handles[0].id, time.perf_counter() - started


def _serve_child(url: str, port: int) -> None:
    app = Taskora(url)
    app.register_task(TASK, None)
    uvicorn.run(create_board(app, auth=PASSWORD), host="127.0.0.1", port=port, log_level="warning")


def serve(url: str) -> tuple[multiprocessing.Process, int]:
    """The board in a process of its own (as ``taskora board`` runs it): the client's work is not measured."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    child = multiprocessing.get_context("spawn").Process(target=_serve_child, args=(url, port), daemon=True)
    child.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/session", timeout=1)
            return child, port
        except httpx.TransportError:
            if time.monotonic() > deadline or not child.is_alive():
                raise SystemExit("the board process did not start") from None
            time.sleep(0.05)


def timed(client: httpx.Client, path: str, repeats: int) -> tuple[float, float]:
    """Median and p95 of ``repeats`` GETs of ``path``, in ms (after one warm-up)."""
    client.get(path).raise_for_status()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


#: In the page: ms from the navigation's start to the board's first draw of its data (a mark board.js sets),
#: or to the load event's end for a page without the mark (the CSS baseline).
DRAWN_JS = """() => { const drawn = performance.getEntriesByName('board:drawn')[0];
  return drawn ? drawn.startTime : performance.getEntriesByType('navigation')[0].loadEventEnd; }"""


def _median_p95(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def browser_loads(base: str, pages: dict[str, tuple[str, str]],
                  repeats: int) -> dict[str, tuple[float, float, float, float]]:  # fmt: skip
    """Per page, after login: median and p95 ms from a reload to its data drawn (its selector present) as the
    driving process sees it, then the same two from the browser's own clock (navigation start to the draw:
    without Playwright's command and polling latency, which grows with the machine's load)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("--browser needs Chromium on PATH (apt-get install chromium)")
    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(base)
        page.fill("#password", PASSWORD)
        page.click("#login button")
        page.wait_for_selector("#tasks")
        for name, (hash_path, selector) in pages.items():
            samples, in_page = [], []
            page.goto(base + hash_path)
            page.wait_for_selector(selector)
            for _ in range(repeats + 1):
                start = time.perf_counter()
                page.reload()  # a full load of the page in the same renderer (no process start measured)
                page.wait_for_selector(selector)
                samples.append((time.perf_counter() - start) * 1000)
                in_page.append(float(page.evaluate(DRAWN_JS)))
            out[name] = (*_median_p95(samples[1:]), *_median_p95(in_page[1:]))
        browser.close()
    return out


def _load() -> str:
    """The machine's load average (1, 5, 15 min): the figures are measured beside whatever else runs."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--browser", action="store_true", help="also time whole page loads in headless Chromium")
    args = parser.parse_args()
    with RedisServer() as redis_server:
        app = Taskora(redis_server.url)
        job_id, fill_s = fill(app, args.jobs)
        memory = app.adapter.client.info("memory")["used_memory_human"]
        child, port = serve(redis_server.url)
        pages = {"page (HTML)": "/", "overview": "/api/overview",
                 "task, completed, first page": f"/api/tasks/{TASK}/jobs?state=completed&limit=50",
                 "task, completed, middle page": f"/api/tasks/{TASK}/jobs?state=completed&limit=50"
                                                 f"&offset={args.jobs // 2}",
                 "job detail": f"/api/jobs/{job_id}", "dead letters": "/api/dlq"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            client.post("/api/login", json={"password": PASSWORD}).raise_for_status()
            print(f"{args.jobs:,} completed jobs (filled in {fill_s:.1f} s, Redis {memory}); "
                  f"{args.repeats} requests each; {os.cpu_count()} cores, {_load()}\n")
            print("| request | median ms | p95 ms |\n|---|---:|---:|")
            for name, path in pages.items():
                median, p95 = timed(client, path, args.repeats)
                print(f"| {name} | {median:.1f} | {p95:.1f} |")
        if args.browser:
            loads = browser_loads(f"http://127.0.0.1:{port}/", {
                "baseline: the CSS file alone (the browser's own cost)": ("static/board.css", "body"),
                "overview page": ("#/", "#tasks"),
                "task page, completed": (f"#/task/{TASK}/completed/0", "#jobs tr[data-job]"),
                "task page, completed, middle": (f"#/task/{TASK}/completed/{args.jobs // 2}", "#jobs tr[data-job]"),
                "job page": (f"#/job/{job_id}", "#job-state")}, args.repeats)
            print("\n| page load in Chromium (HTML, API calls, drawn) | median ms | p95 ms "
                  "| in the browser: median ms | p95 ms |\n|---|---:|---:|---:|---:|")
            for name, (median, p95, page_median, page_p95) in loads.items():
                print(f"| {name} | {median:.1f} | {p95:.1f} | {page_median:.1f} | {page_p95:.1f} |")
            print(f"\nafter the browser runs: {_load()}")
        child.terminate()
        child.join(10)


if __name__ == "__main__":
    main()
