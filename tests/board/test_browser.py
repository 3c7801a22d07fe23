"""The real board in headless Chromium (Playwright driving the system browser): log in, read a task's counts,
open a failed job's traceback, retry it and see it complete live over SSE, pause a schedule, read the payload
versions of queued jobs.

Screenshots of each step land in tests/artifacts/ (gitignored). Skipped, saying why, only when there is no
Chromium or no Playwright; ``.ci/run`` installs both (``apt-get install chromium``, ``pip install playwright``).
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskora import JobFailedError, Taskora, chord
from taskora.redis import redis_adapter

from ..waiting import wait_until
from .helpers import PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium)"),
    pytest.mark.skipif(sync_playwright is None, reason="Playwright is not installed (pip install playwright)"),
]


def bound_socket() -> socket.socket:
    """A loopback socket bound to a port of its own, handed to the server as it is: a port found free and bound
    again later can be taken meanwhile by another test process's server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveBoard:
    """A project with a worker, a stored schedule, and its board served by uvicorn on a free port."""

    def __init__(self, redis_url: str, *, read_only: bool = False) -> None:
        import uvicorn

        from taskora.board import create_board

        self.fixed, self.gate = threading.Event(), threading.Event()
        self.app = Taskora(redis_adapter(redis_url))
        self.app.task("flaky", self._flaky)
        self.app.task("fetch", lambda data: data["id"] * 10)
        self.app.task("total", lambda values: sum(values))
        self.app.task("mail", lambda data: data, version=2, migrate={2: lambda data: {**data, "lang": "en"}})
        self.app.schedule("nightly", task="flaky", every="1h")
        self.app.schedules.sync()
        self.app.start()
        sock = bound_socket()
        self.port = int(sock.getsockname()[1])
        web = self.web = create_board(self.app, auth=PASSWORD, read_only=read_only)
        config = uvicorn.Config(web, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, what="the board to listen")

    def _flaky(self, data: Any) -> str:
        if not self.fixed.is_set():
            raise RuntimeError(f"dependency down for {data}")
        self.gate.wait(20)  # held until the test has seen the job active in the page
        return "recovered"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.gate.set()
        self.server.should_exit = True
        self.thread.join(10)
        self.app.close(timeout=5)


@pytest.fixture
def live(redis_url: str) -> Iterator[LiveBoard]:
    board = LiveBoard(redis_url)
    yield board
    board.stop()


@pytest.fixture
def page(live: LiveBoard) -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        yield tab
        browser.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"board-{name}.png"), full_page=True)


def log_in(page: Any, url: str) -> None:
    """Open the board at ``url`` and log in with the test password, until the board shows itself logged in: the
    page reads its session (the CSRF token its writes carry) after the login's answer, and a test that clicked a
    write before that read was refused for a missing token."""
    page.goto(url)
    page.fill("#password", PASSWORD)
    page.click("#login button")
    expect(page.locator("#logout")).to_be_visible()


def test_operate_a_failed_job_and_a_schedule_in_the_browser(live: LiveBoard, page: Any) -> None:
    handle = live.app.dispatch("flaky", {"order": 42})
    with pytest.raises(JobFailedError):
        handle.result(timeout=10)

    page.goto(live.url)
    expect(page.locator("#login")).to_be_visible()
    page.fill("#password", "wrong")
    page.click("#login button")
    expect(page.locator("#login-error")).to_be_visible()
    expect(page.locator("#tasks")).to_have_count(0)  # a refused login shows nothing
    page.fill("#password", PASSWORD)
    page.click("#login button")
    failed_cell = page.locator('tr[data-task="flaky"] td[data-state="failed"]')
    expect(failed_cell).to_have_text("1")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#live")).to_have_text("live")
    shot(page, "1-overview")

    failed_cell.locator("a").click()
    page.locator(f'tr[data-job="{handle.id}"] a').click()
    expect(page.locator("#traceback")).to_contain_text("RuntimeError: dependency down for {'order': 42}")
    expect(page.locator("#job-state")).to_have_text("failed")
    shot(page, "2-failed-job")

    live.fixed.set()
    page.click('button[data-action="Retry"]')
    expect(page.locator("#job-state")).to_have_text("active", timeout=10_000)
    live.gate.set()  # nothing reloads the page from here on: only the SSE event can show the completion
    expect(page.locator("#job-state")).to_have_text("completed", timeout=10_000)
    expect(page.locator("#result")).to_have_text('"recovered"')
    shot(page, "3-retried-live")

    page.click('a[href="#/schedules"]')
    row = page.locator('tr[data-schedule="nightly"]')
    expect(row.locator("td.next")).not_to_have_text("paused")
    row.locator('button[data-action="Pause"]').click()
    expect(row.locator("td.next")).to_have_text("paused")
    expect(row.locator('button[data-action="Resume"]')).to_be_visible()
    assert live.app.schedules.get("nightly").paused
    shot(page, "4-schedule-paused")


def test_a_workflow_is_drawn_with_each_nodes_state(live: LiveBoard, page: Any) -> None:
    fetch, total = live.app.get_task("fetch"), live.app.get_task("total")
    done = chord([fetch.s({"id": i}) for i in (1, 2, 3)], total.s()).dispatch(name="nightly totals")
    assert done.result(timeout=10) == 60
    log_in(page, live.url)
    page.click('a[href="#/workflows"]')
    page.locator(f'tr[data-workflow="{done.id}"] a').click()
    expect(page.locator("#workflow-state")).to_have_text("completed")
    expect(page.locator('#dag a[data-state="completed"]')).to_have_count(4)
    expect(page.locator("#dag line")).to_have_count(3)  # each fetch feeds the total
    expect(page.locator("#workflow-result")).to_have_text("60")
    shot(page, "5-workflow")
    page.locator('#dag a[data-node="3"]').click()
    expect(page.locator("#job-state")).to_have_text("completed")
    expect(page.locator("#workflow-link")).to_have_text(done.id)


def test_the_overview_charts_the_engines_per_minute_counters(live: LiveBoard, page: Any) -> None:
    now = live.app.adapter.now_ms()
    minute = now - now % 60_000 - 5 * 60_000  # five minutes ago: no job of this test runs then
    client: Any = live.app.adapter.client  # written as a worker's ack/fail scripts write them (interop 22)
    for kind, times in (("completed", 7), ("failed", 2)):
        key = f"{live.app.adapter.keys.task_prefix('flaky')}metrics:{kind}:{minute}"
        client.incrby(key, times)
        client.expire(key, 86400)
    log_in(page, live.url)
    bars = page.locator("#chart > div")
    expect(bars).to_have_count(60)
    expect(page.locator('#chart > div[title$=": 7 completed, 2 failed"]')).to_have_count(1)
    shot(page, "6-throughput")
    page.click("#range")
    expect(page.locator("h2", has_text="last 24 hours, per hour")).to_be_visible()
    assert 24 <= bars.count() <= 25


def test_clean_by_age_from_the_task_page(live: LiveBoard, page: Any) -> None:
    fetch = live.app.get_task("fetch")
    old = [fetch.dispatch({"id": i}) for i in range(3)]
    for handle in old:
        handle.result(timeout=10)
    completed = live.app.adapter.keys.state_set("fetch", "completed")  # they finished 30 minutes ago
    live.app.adapter.client.zadd(completed, {h.id: live.app.adapter.now_ms() - 30 * 60_000 for h in old})
    recent = [fetch.dispatch({"id": i}) for i in range(2)]
    for handle in recent:
        handle.result(timeout=10)
    log_in(page, live.url)
    page.goto(live.url + "#/task/fetch/completed/0")
    expect(page.locator("#jobs tr[data-job]")).to_have_count(5)
    page.fill("#clean-age", "15m")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('button[data-action="Clean"]')
    expect(page.locator("#toast")).to_contain_text('"count":3')
    expect(page.locator("#jobs tr[data-job]")).to_have_count(2)
    expect(page.locator(f'#jobs tr[data-job="{recent[0].id}"]')).to_have_count(1)
    shot(page, "9-cleaned-by-age")
    assert all(live.app.inspect().find(h.id) is None for h in old)


def test_a_live_refresh_keeps_the_age_typed_for_clean(live: LiveBoard, page: Any) -> None:
    """Jobs finishing while someone types an age redraw the task page: what they typed must stay (it went back to
    1h, and a Clean then deleted by the wrong age), and the redraw waits until they leave the box."""
    fetch = live.app.get_task("fetch")
    fetch.dispatch({"id": 1}).result(timeout=10)
    log_in(page, live.url)
    page.goto(live.url + "#/task/fetch/completed/0")
    expect(page.locator("#jobs tr[data-job]")).to_have_count(1)
    wait_until(live.web.state.board.hub.reading.is_set, what="the page's event stream to be read")
    page.fill("#clean-age", "15m")  # the box keeps the focus
    fetch.dispatch({"id": 2}).result(timeout=10)
    page.locator("#main h1").click()  # leaving the box lets the waiting redraw run
    expect(page.locator("#jobs tr[data-job]")).to_have_count(2)
    expect(page.locator("#clean-age")).to_have_value("15m")


def test_a_job_that_ended_while_the_pages_stream_started_shows(
        live: LiveBoard, page: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Between a page's draw and the moment its event stream is read, events reach nobody. The stream's ``ready``
    makes the page read itself again: a job that completed in that window shows, with no later event."""
    adapter, entered, release = live.app.adapter, threading.Event(), threading.Event()
    last_event_id = adapter.last_event_id

    def held_at_the_start(task: str) -> str:
        if threading.current_thread().name == "taskora-board-events":  # the board's reader, not a result wait
            entered.set()
            release.wait(10)
        return last_event_id(task)

    monkeypatch.setattr(adapter, "last_event_id", held_at_the_start)
    fetch = live.app.get_task("fetch")
    fetch.dispatch({"id": 1}).result(timeout=10)
    log_in(page, live.url)
    page.goto(live.url + "#/task/fetch/completed/0")
    expect(page.locator("#jobs tr[data-job]")).to_have_count(1)
    assert entered.wait(10), "the page's event stream never started its reader"
    fetch.dispatch({"id": 2}).result(timeout=10)  # its events are written before the reader knows where to start
    release.set()
    expect(page.locator("#jobs tr[data-job]")).to_have_count(2)


def test_a_read_only_board_shows_no_action_buttons(redis_url: str) -> None:
    board = LiveBoard(redis_url, read_only=True)
    try:
        handle = board.app.dispatch("flaky", 1)
        with pytest.raises(JobFailedError):
            handle.result(timeout=10)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page()
            log_in(page, board.url)
            page.goto(f"{board.url}#/job/{handle.id}")
            expect(page.locator("#traceback")).to_contain_text("RuntimeError")
            for where, title in (("#/dlq", "Dead letters"), ("#/schedules", "Schedules"),
                                 ("#/task/flaky/failed/0", "Task flaky"),
                                 (f"#/job/{handle.id}", f"Job {handle.id}")):
                page.goto(board.url + where)
                expect(page.locator("main h1")).to_contain_text(title)
                expect(page.locator("main button")).to_have_count(0)
            browser.close()
    finally:
        board.stop()


def test_the_versions_page_says_when_since_can_be_raised(live: LiveBoard, page: Any, redis_url: str) -> None:
    old = Taskora(redis_adapter(redis_url))  # a producer still on v1 of "mail" (never started: dispatch only)
    old.task("mail", lambda data: data)
    stale = [old.dispatch("mail", {"to": to}, delay="1h") for to in ("a", "b")]
    live.app.dispatch("mail", {"to": "c"}, delay="1h")
    log_in(page, live.url)
    page.click('a[href="#/versions"]')
    row = page.locator('#versions tr[data-task="mail"]')
    expect(row.locator("td.delayed")).to_have_text("v1: 2, v2: 1")
    expect(row.locator("td.bump")).to_have_text("no (1)")
    shot(page, "7-versions-held")

    for handle in stale:  # the operator drains the v1 jobs; the page follows over SSE, no reload
        handle.cancel()
    expect(row.locator("td.delayed")).to_have_text("v2: 1", timeout=10_000)
    expect(row.locator("td.bump.raisable")).to_have_text("2")
    shot(page, "8-versions-raisable")
    old.close()
