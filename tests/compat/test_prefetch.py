"""Prefetch as Celery's: a worker reserves at most ``-c`` x ``worker_prefetch_multiplier`` claimed jobs beyond
those it runs (none with ``--disable-prefetch``), whatever the number of its tasks, so a backlog is shared with
another idle worker. Real ``taskora worker -P prefork -c 1`` subprocesses on one queue; ``inspect reserved``
read from this process while they work. Before, each task's slot could hold a reserved job of its own: a
child serving six tasks reserved up to five jobs.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections import Counter

import pytest
import redis
from taskora.compat import Celery

from taskora.worker.budget import reserve_bound

from .celery_helpers import CeleryWorker, import_project

TASKS = 6
#: No-op tasks: their jobs run well under 2 ms, so a busy slot claims its next job ahead (lookahead.py).
NOOPS = 2

PROJECT = f'''
import os
import time

import redis

from taskora.compat import Celery

app = Celery("pfproj", broker=os.environ["REDIS_URL"])


def _make(name):
    @app.task(name=name)
    def short():
        time.sleep(0.1)
        return os.environ["WORKER_TAG"]
    return short


TASKS = [_make(f"short{{i}}") for i in range({TASKS})]


_marks = redis.Redis.from_url(os.environ["REDIS_URL"])


def _make_noop(name):
    @app.task(name=name, bind=True)
    def noop(self):
        _marks.sadd("pf:started", self.request.id)  # the job's handler runs: no longer held unstarted
        return None
    return noop


NOOPS = [_make_noop(f"noop{{i}}") for i in range({NOOPS})]
'''


@pytest.fixture
def pfproj(tmp_path, redis_url, monkeypatch):
    module = import_project(tmp_path, "pfproj", PROJECT, redis_url, monkeypatch)
    workers: list[CeleryWorker] = []

    def start(tag: str, *args: str) -> CeleryWorker:
        monkeypatch.setenv("WORKER_TAG", tag)  # the worker's environment: its tasks return it
        worker = CeleryWorker(tmp_path, "pfproj", redis_url, f"pf{tag}{uuid.uuid4().hex[:6]}@test", *args)
        workers.append(worker)
        return worker

    yield module, start
    for worker in workers:
        worker.stop()
    module.app.close()
    sys.modules.pop("pfproj", None)


class ReservedWatch:
    """Polls ``inspect reserved`` in a thread until stopped; the most jobs each worker showed at once. With
    ``destination`` only those workers are asked, and the backlog waiting in the store is not listed (with 2,000
    jobs waiting, listing them made a poll take 1.5 s: two polls in a whole drain)."""

    def __init__(self, app: Celery, destination: list[str] | None = None) -> None:
        self.app = app
        self.destination = destination
        self.most: Counter[str] = Counter()
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            inspect = self.app.control.inspect(timeout=0.3, destination=self.destination)
            for hostname, jobs in (inspect.reserved() or {}).items():
                self.most[hostname] = max(self.most[hostname], len(jobs))
            self.polls += 1

    def stop(self) -> Counter[str]:
        self._stop.set()
        self._thread.join(5)
        return self.most


def _backlog(proj, jobs: int) -> list:
    return [proj.TASKS[i % TASKS].delay() for i in range(jobs)]


def test_two_workers_share_a_backlog_and_reserve_at_most_c_times_the_multiplier(pfproj):
    proj, start = pfproj
    workers = [start(tag, "-P", "prefork", "-c", "1", "--prefetch-multiplier", "1") for tag in ("a", "b")]
    for worker in workers:
        worker.wait_ready(proj.app)
    watch = ReservedWatch(proj.app)
    ran = Counter(result.get(timeout=60) for result in _backlog(proj, 36))
    most = watch.stop()
    assert watch.polls >= 3
    assert all(most[w.hostname] <= 1 for w in workers), most  # -c 1 x multiplier 1
    assert ran["a"] >= 9 and ran["b"] >= 9, ran  # each runs a share (about half)


def test_disable_prefetch_reserves_nothing_beyond_the_running_job(pfproj):
    proj, start = pfproj
    worker = start("a", "-P", "prefork", "-c", "1", "--disable-prefetch").wait_ready(proj.app)
    watch = ReservedWatch(proj.app)
    assert Counter(result.get(timeout=60) for result in _backlog(proj, 18)) == {"a": 18}  # FIFO, none starves
    most = watch.stop()
    assert watch.polls >= 3 and most[worker.hostname] == 0, most


def test_the_bound_reads_the_celery_settings_and_the_command_line():
    app = Celery("bounds", broker="memory://")
    native = app.__taskora_app__
    assert reserve_bound(native, "threads", 3) == 12  # -c 3 x the default multiplier 4
    assert reserve_bound(native, "prefork", 3) == 4  # each child's share
    app.conf.worker_prefetch_multiplier = 2
    assert reserve_bound(native, "threads", 3) == 6
    assert reserve_bound(native, "threads", 3, multiplier=1) == 3  # --prefetch-multiplier wins
    assert reserve_bound(native, "threads", 3, multiplier=0) is None  # 0: no bound, as Celery
    app.conf.worker_disable_prefetch = True
    assert reserve_bound(native, "threads", 3) == 0
    app.close()


#: (jobs active and not marked started, jobs active, then each unstarted job's id and lock token) over the active
#: lists KEYS (whose job keys are the list's name less "active", then the id), the started set ARGV[1]: one script,
#: so the counts are of one moment.
COUNT_HELD = """
local unstarted, active, held = 0, 0, {}
for _, key in ipairs(KEYS) do
  local prefix = string.sub(key, 1, -7)
  for _, id in ipairs(redis.call('LRANGE', key, 0, -1)) do
    active = active + 1
    if redis.call('SISMEMBER', ARGV[1], id) == 0 then
      unstarted = unstarted + 1
      table.insert(held, id)
      table.insert(held, redis.call('GET', prefix .. id .. ':lock') or '')
    end
  end
end
return {unstarted, active, unpack(held)}
"""


class HeldWatch:
    """Polls Redis in a thread until stopped: the most jobs of the given tasks held unstarted at once, that is
    active (claimed by the worker, not finished) and not marked started by their handler, read in one MULTI so
    the counts are of one moment. A job finishing (its handler returned, its ack on its way) is not counted."""

    def __init__(self, redis_url: str, tasks: list[str]) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.keys = [f"taskora:{{{name}}}:active" for name in tasks]
        self.most = 0
        self.most_active = 0
        #: How many polls saw each number of jobs held unstarted.
        self.seen: Counter[int] = Counter()
        #: The jobs held unstarted (id, lock token) when the most were seen: who held them, should a test fail.
        self.worst: list[tuple[str, str]] = []
        #: Redis's clients (address, age in s, last command) when the most jobs were active, if more than one was.
        self.clients: list[tuple[str, str, str]] = []
        self.started = time.monotonic()
        #: The worker's warnings and errors once drained (``_drain``): a child's death, a hand-back.
        self.log_tail = ""
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        count = self.client.register_script(COUNT_HELD)
        while not self._stop.is_set():
            unstarted, active, *held = count(keys=self.keys, args=["pf:started"])
            if unstarted > self.most:
                pairs = zip(held[::2], held[1::2], strict=True)
                self.worst = [(job_id.decode(), token.decode()) for job_id, token in pairs]
            if active > max(self.most_active, 1):  # who was connected then: a client older than this watch is
                self.clients = [(c.get("addr"), c.get("age"), c.get("cmd"))  # a leftover (the flake of stop 51)
                                for c in self.client.client_list()]
            self.most, self.most_active = max(self.most, unstarted), max(self.most_active, active)
            self.seen[unstarted] += 1
            self.polls += 1

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        self.client.close()
        return self.most


def _drain(proj, redis_url: str, start_worker, jobs: int, tasks: int) -> tuple[HeldWatch, int]:
    """Enqueue ``jobs`` no-op jobs over the first ``tasks`` no-op tasks, then start the worker (``start_worker()``)
    and let it drain them while watching Redis and ``inspect reserved``; returns (the watch of the jobs held,
    the most jobs the worker showed reserved). The backlog is complete before the worker starts, so no slot
    waits idle meanwhile: an idle slot's blocking claim may land while the bound is full (that job goes
    straight back to its queue, briefly active), which would blur what is measured here."""
    noops = proj.NOOPS[:tasks]
    results = [noops[i % tasks].delay() for i in range(jobs)]
    held = HeldWatch(redis_url, [task.name for task in noops])
    worker = start_worker()
    reserved = ReservedWatch(proj.app, destination=[worker.hostname])
    for result in results:
        assert result.get(timeout=120) is None
    held.stop()
    most_reserved = reserved.stop()
    assert held.polls >= 100 and reserved.polls >= 3, (held.polls, reserved.polls)
    warnings = [line for line in worker.log().splitlines() if "WARNING/" in line or "ERROR/" in line]
    held.log_tail = "\n".join(warnings)[-3000:]
    return held, most_reserved[worker.hostname]


def test_with_prefetch_disabled_a_busy_child_claims_nothing_ahead(pfproj, redis_url):
    """Short jobs make a busy slot claim its next job ahead: with ``--disable-prefetch`` it must not, so the
    child holds only the job it runs (before, a second job was held, claimed ahead, for most of each job)."""
    proj, start = pfproj
    held, most_reserved = _drain(proj, redis_url, lambda: start("a", "-P", "prefork", "-c", "1",
                                                                "--disable-prefetch"), 2000, tasks=1)
    assert (held.most_active, most_reserved) == (1, 0), \
        (held.most_active, held.most, most_reserved, held.worst, held.log_tail,
         f"clients then ({time.monotonic() - held.started:.1f} s after the watch began): {held.clients}")


def test_claims_ahead_count_against_the_prefetch_bound(pfproj, redis_url):
    """``-c 1 --prefetch-multiplier 1`` with two busy tasks: the child holds at most one job unstarted beyond the
    one about to start (its permit taken, its handler not yet marked), whether reserved for the budget, claimed
    ahead, or brought by a finishing slot's claim. Before claims ahead counted, three or four were held for a third
    of the time; before every claim took its room as it went out (2026-12-06), a job claimed by one slot's finish
    while the other's filled the bound was held, then handed back: three held in 1.5-4.5 % of busy polls, five
    once in a CI run. Now none in five runs; what may still pass in passing is a job an idle slot's blocking
    claim brings while the bound is full (here the backlog is there before the worker starts)."""
    proj, start = pfproj
    held, most_reserved = _drain(proj, redis_url, lambda: start("a", "-P", "prefork", "-c", "1",
                                                                "--prefetch-multiplier", "1"), 2000, tasks=2)
    busy = sum(polls for unstarted, polls in held.seen.items() if unstarted)
    past = sum(polls for unstarted, polls in held.seen.items() if unstarted > 2)
    assert held.most <= 3 and past <= busy * 0.02 and most_reserved <= 1, \
        (held.seen, most_reserved, held.worst, held.log_tail)
