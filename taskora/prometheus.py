"""Prometheus exposition of an app's queues: ``render(app)`` returns the text format for ``/metrics``.

Where the numbers come from, and why they hold across processes:

* Gauges (jobs per task and state, queue depth, oldest waiting age, workers online) are read from Redis on
  each scrape: the engine's per-state sets, the wait list, and the control channel's subscriber count. They
  are the same whichever process (or language) ran the jobs.
* Counters and the duration histogram (completed, failed, retries, stalls) are tallied from the tasks'
  event streams, which every worker (Python or TypeScript, any process) writes inside its transition
  scripts. Each scrape reads the entries added since the previous one (non-blocking XREAD); a duration is
  ``finishedOn - processedOn`` of the job hash. So nothing is added to the workers' hot path, no per-worker
  registries need merging, and a worker that dies loses nothing. The tally starts at the exporter's first
  scrape (Prometheus' ``rate()`` handles the restart of a counter); a job deleted before the scrape (result
  not kept) is counted but adds no duration. Streams are capped near 10,000 entries per task: scrape more
  often than that many events arrive, or some are not counted.

``prometheus_client`` is the optional extra ``taskora[prometheus]``; it is imported by ``render`` only.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .extras import require
from .inspector import STATES

if TYPE_CHECKING:
    from .app import Taskora

#: Upper bounds (seconds) of the duration histogram's buckets.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
                    600.0, float("inf"))
#: Stream entries read per stream and call, and calls per scrape at most (a scrape stays bounded).
READ_COUNT = 1000
MAX_READS = 50

#: Every metric this module exposes: (name as scraped, type, labels, meaning). Documented in
#: docs/operations/monitoring.md.
METRICS = (
    ("taskora_jobs", "gauge", "task, state", "jobs of the task in each state (waiting, active, delayed, ...)"),
    ("taskora_queue_depth", "gauge", "task", "jobs waiting to be claimed"),
    ("taskora_queue_oldest_waiting_age_seconds", "gauge", "task", "how long the longest-waiting job has waited"),
    ("taskora_workers_online", "gauge", "", "workers listening on the control channel"),
    ("taskora_jobs_completed_total", "counter", "task", "jobs completed since the exporter started"),
    ("taskora_jobs_failed_total", "counter", "task", "jobs failed for good since the exporter started"),
    ("taskora_job_retries_total", "counter", "task", "failed attempts that will run again"),
    ("taskora_job_stalls_total", "counter", "task", "jobs found stalled (their worker died or hung)"),
    ("taskora_job_duration_seconds", "histogram", "task, outcome",
     "run time of finished jobs (processedOn to finishedOn), outcome completed or failed"),
)


class Histogram:
    """Cumulative bucket counts, a sum and a count: what a Prometheus histogram exposes."""

    def __init__(self) -> None:
        self.counts = [0] * len(DURATION_BUCKETS)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.total += seconds
        for i, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1

    def buckets(self) -> list[tuple[str, int]]:
        """``(le, cumulative count)`` per bucket, as HistogramMetricFamily takes them."""
        bounds = ["+Inf" if b == float("inf") else repr(b) for b in DURATION_BUCKETS]
        return list(zip(bounds, self.counts, strict=True))


class StreamTally:
    """Counts events read from the tasks' streams since the first scrape, and observes durations."""

    def __init__(self, app: Taskora) -> None:
        self.app = app
        self.positions: dict[str, str] = {}
        self.task_of: dict[str, str] = {}
        self.counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.durations: dict[tuple[str, str], Histogram] = defaultdict(Histogram)

    def catch_up(self) -> None:
        """Read every stream entry added since the previous call (up to a bound), tallying each."""
        self._follow_new_tasks()
        for _ in range(MAX_READS):
            batches = self.app.adapter.events_since(self.positions, READ_COUNT)
            for stream, entries in batches:
                self.positions[stream] = entries[-1][0]
                self._tally(self.task_of[stream], [fields for _id, fields in entries])
            if all(len(entries) < READ_COUNT for _stream, entries in batches):
                return

    def _follow_new_tasks(self) -> None:
        for task in list(self.app.tasks):
            stream = self.app.adapter.keys.events(task)
            if stream not in self.task_of:
                self.task_of[stream] = task
                self.positions[stream] = self.app.adapter.last_event_id(task)

    def _tally(self, task: str, events: list[dict[str, str]]) -> None:
        finished: dict[str, list[str]] = {"completed": [], "failed": []}
        for fields in events:
            name = fields.get("event", "")
            self.counters[name][task] += 1
            if name in finished:
                finished[name].append(fields.get("jobId", ""))
        for outcome, ids in finished.items():
            if ids:
                self._observe(task, outcome, ids)

    def _observe(self, task: str, outcome: str, job_ids: list[str]) -> None:
        for started, ended in self.app.adapter.job_timings(task, job_ids):
            if started is not None and ended is not None and ended >= started:
                self.durations[(task, outcome)].observe((ended - started) / 1000)


class TaskoraCollector:
    """A prometheus_client collector: reads the gauges now and the counters from the stream tally."""

    def __init__(self, app: Taskora) -> None:
        self.app = app
        self.tally = StreamTally(app)
        self.lock = threading.Lock()

    def collect(self) -> Iterator[Any]:
        metrics = require("prometheus_client.core", "prometheus", "taskora.prometheus")
        with self.lock:
            self.tally.catch_up()
            yield from self._gauges(metrics)
            yield from self._counters(metrics)
            yield self._histogram(metrics)

    def _gauges(self, metrics: Any) -> Iterator[Any]:
        adapter, now = self.app.adapter, self.app.adapter.now_ms()
        jobs = metrics.GaugeMetricFamily("taskora_jobs", "Jobs per task and state.", labels=["task", "state"])
        depth = metrics.GaugeMetricFamily("taskora_queue_depth", "Jobs waiting to be claimed.", labels=["task"])
        age = metrics.GaugeMetricFamily("taskora_queue_oldest_waiting_age_seconds",
                                        "Age of the longest-waiting job (0 when none waits).", labels=["task"])
        for task in sorted(self.app.tasks):
            counts = adapter.counts(task)
            for state in STATES:
                jobs.add_metric([task, state], counts.get(state, 0))
            depth.add_metric([task], counts.get("waiting", 0))
            oldest = adapter.oldest_waiting_ms(task)
            age.add_metric([task], max(0, now - oldest) / 1000 if oldest is not None else 0.0)
        online = metrics.GaugeMetricFamily("taskora_workers_online", "Workers listening on the control channel.",
                                           value=adapter.control_listeners())
        return iter((jobs, depth, age, online))

    def _counters(self, metrics: Any) -> Iterator[Any]:
        for event, name, doc in (("completed", "taskora_jobs_completed", "Jobs completed."),
                                 ("failed", "taskora_jobs_failed", "Jobs failed for good."),
                                 ("retrying", "taskora_job_retries", "Failed attempts that will run again."),
                                 ("stalled", "taskora_job_stalls", "Jobs found stalled.")):
            family = metrics.CounterMetricFamily(name, doc, labels=["task"])
            for task in sorted(self.app.tasks):
                family.add_metric([task], self.tally.counters[event].get(task, 0))
            yield family

    def _histogram(self, metrics: Any) -> Any:
        family = metrics.HistogramMetricFamily("taskora_job_duration_seconds",
                                               "Run time of finished jobs, processedOn to finishedOn.",
                                               labels=["task", "outcome"])
        for (task, outcome), histogram in sorted(self.tally.durations.items()):
            family.add_metric([task, outcome], histogram.buckets(), histogram.total)
        return family


_collectors: weakref.WeakKeyDictionary[Any, tuple[TaskoraCollector, Any]] = weakref.WeakKeyDictionary()
_collectors_lock = threading.Lock()


def registry_for(app: Taskora) -> Any:
    """The app's own prometheus_client registry (made on first use, kept while the app lives): register
    more collectors on it, or call ``render(app)`` to expose it."""
    client = require("prometheus_client", "prometheus", "taskora.prometheus")
    with _collectors_lock:
        found = _collectors.get(app)
        if found is None:
            collector = TaskoraCollector(app)
            registry = client.CollectorRegistry(auto_describe=False)
            registry.register(collector)
            found = _collectors[app] = (collector, registry)
    return found[1]


def render(app: Taskora) -> bytes:
    """The app's metrics in the Prometheus text format (serve with ``CONTENT_TYPE``): mount it at /metrics
    of any web app, or run ``taskora metrics -A proj --port 9808``."""
    client = require("prometheus_client", "prometheus", "taskora.prometheus")
    return bytes(client.generate_latest(registry_for(app)))


#: The Content-Type of ``render``'s output (Prometheus text format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
