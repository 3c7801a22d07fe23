"""``app.events.State``: an in-memory picture of the cluster built from events, as a monitor keeps one.

Everything it holds is bounded: ``tasks`` keeps the ``max_tasks_in_memory`` most recently seen tasks,
``workers`` the ``max_workers_in_memory`` most recent workers, and the children waiting for a parent that was
never seen (``_tasks_to_resolve``) at most ``max_tasks_in_memory`` parents, so a monitor that runs for months
does not grow (Celery issue #4832).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any
from weakref import WeakSet

from . import objects
from ._lru import LRUCache
from .objects import Task, Worker

__all__ = ["State", "Task", "Worker"]


class State:
    """Feed it events (``state.event(event_dict)``, or as a receiver's ``'*'`` handler); read tasks and workers."""

    Task = objects.Task
    Worker = objects.Worker

    def __init__(self, callback: Callable[..., Any] | None = None, workers: Any = None, tasks: Any = None,
                 taskheap: Any = None, max_workers_in_memory: int = 5000, max_tasks_in_memory: int = 10000,
                 on_node_join: Callable[[objects.Worker], Any] | None = None,
                 on_node_leave: Callable[[objects.Worker], Any] | None = None, **kwargs: Any) -> None:  # fmt: skip
        self.event_callback = callback
        self.max_workers_in_memory = max_workers_in_memory
        self.max_tasks_in_memory = max_tasks_in_memory
        self.workers = LRUCache(max_workers_in_memory)
        self.tasks = LRUCache(max_tasks_in_memory)
        self.workers.update(workers or {})
        self.tasks.update(tasks or {})
        self._tasks_to_resolve = LRUCache(max_tasks_in_memory)
        self.on_node_join = on_node_join
        self.on_node_leave = on_node_leave
        self._mutex = threading.RLock()
        self._seen_types: set[str] = set()
        self.event_count = 0
        self.task_count = 0

    def __repr__(self) -> str:
        return f"<State: events={self.event_count} tasks={self.task_count}>"

    # -- feeding ------------------------------------------------------------------------------------
    def event(self, event: dict[str, Any]) -> tuple[tuple[Any, bool], str]:
        """Apply one event; returns ``((task_or_worker, created), subject)`` as Celery does."""
        with self._mutex:
            return self._event(dict(event))

    def task_event(self, type_: str, fields: dict[str, Any]) -> tuple[Any, bool]:
        return self.event(dict(fields, type=f"task-{type_}"))[0]

    def worker_event(self, type_: str, fields: dict[str, Any]) -> tuple[Any, bool]:
        return self.event(dict(fields, type=f"worker-{type_}"))[0]

    def _event(self, event: dict[str, Any]) -> tuple[tuple[Any, bool], str]:
        self.event_count += 1
        subject, _, type_ = str(event.get("type", "")).partition("-")
        local_received = event.setdefault("local_received", time.time())
        outcome: tuple[Any, bool]
        if subject == "worker":
            outcome = self._worker_event(type_, event, local_received)
        elif subject == "task":
            outcome = self._task_event(type_, event, local_received)
        else:
            outcome = (None, False)
        if self.event_callback is not None:
            self.event_callback(self, event)
        return outcome, subject

    def _worker_event(self, type_: str, event: dict[str, Any], local_received: float) -> tuple[objects.Worker, bool]:
        worker, created = self.get_or_create_worker(event.get("hostname"))
        worker.event(type_, event.get("timestamp"), local_received, event)
        if type_ == "online" and self.on_node_join is not None:
            self.on_node_join(worker)
        elif type_ == "offline" and self.on_node_leave is not None:
            self.on_node_leave(worker)
        return worker, created

    def _task_event(self, type_: str, event: dict[str, Any], local_received: float) -> tuple[objects.Task, bool]:
        task, created = self.get_or_create_task(event.get("uuid"))
        if created:
            self.task_count += 1
        hostname = event.get("hostname")
        if hostname:
            worker, _ = self.get_or_create_worker(hostname)
            worker.event(None, event.get("timestamp"), local_received, {"clock": event.get("clock", 0)})
            task.worker = worker
        task.event(type_, event.get("timestamp"), local_received, _task_fields(event))
        if task.name:
            self._seen_types.add(task.name)
        self._link_family(task)
        return task, created

    def _link_family(self, task: objects.Task) -> None:
        """Children met before their parent wait in ``_tasks_to_resolve`` (bounded) until the parent comes."""
        waiting = self._tasks_to_resolve.pop(task.uuid, None)
        if waiting:
            task.children.update(waiting)
        if task.parent_id:
            parent = self.tasks.get(task.parent_id)
            if parent is not None:
                parent.children.add(task)
            else:
                self._pending_child(task)

    def _pending_child(self, task: objects.Task) -> None:
        children = self._tasks_to_resolve.get(task.parent_id)
        if children is None:
            children = self._tasks_to_resolve[task.parent_id] = WeakSet()
        children.add(task)

    def get_or_create_worker(self, hostname: str | None, **kwargs: Any) -> tuple[objects.Worker, bool]:
        worker = self.workers.get(hostname)
        if worker is not None:
            worker.__dict__.update(kwargs)
            return worker, False
        worker = self.workers[hostname] = objects.Worker(hostname, **kwargs)
        return worker, True

    def get_or_create_task(self, uuid: str | None) -> tuple[objects.Task, bool]:
        task = self.tasks.get(uuid)
        if task is not None:
            return task, False
        task = self.tasks[uuid] = objects.Task(uuid, cluster_state=self)
        return task, True

    # -- reading --------------------------------------------------------------------------------------
    def freeze_while(self, fun: Callable[..., Any], *args: Any, clear_after: bool = False, **kwargs: Any) -> Any:
        """Call ``fun`` while no event is applied (then ``clear()`` if asked)."""
        with self._mutex:
            try:
                return fun(*args, **kwargs)
            finally:
                if clear_after:
                    self._clear()

    def clear_tasks(self, ready: bool = True) -> None:
        """Forget tasks: only the finished ones with ``ready=True`` (the default), else all of them."""
        with self._mutex:
            if ready:
                for uuid, task in self.tasks.items():
                    if task.ready:
                        self.tasks.pop(uuid, None)
            else:
                self.tasks.clear()
            self._tasks_to_resolve.clear()

    def _clear(self, ready: bool = True) -> None:
        self.workers.clear()
        self.clear_tasks(ready)
        self.event_count = 0
        self.task_count = 0

    def clear(self, ready: bool = True) -> None:
        with self._mutex:
            self._clear(ready)

    def itertasks(self, limit: int | None = None) -> Iterator[tuple[str, objects.Task]]:
        return islice(self.tasks.items(), limit)

    def tasks_by_time(self, limit: int | None = None, reverse: bool = True) -> Iterator[tuple[str, objects.Task]]:
        """``(uuid, task)`` pairs, most recent event first (``reverse=False``: oldest first)."""
        ordered = sorted(self.tasks.items(), key=lambda item: item[1].timestamp or 0, reverse=reverse)
        return islice(ordered, limit)

    def tasks_by_type(self, name: str, limit: int | None = None,
                      reverse: bool = True) -> Iterator[tuple[str, objects.Task]]:  # fmt: skip
        return islice(((uuid, task) for uuid, task in self.tasks_by_time(reverse=reverse) if task.name == name), limit)

    def tasks_by_worker(self, hostname: str, limit: int | None = None,
                        reverse: bool = True) -> Iterator[tuple[str, objects.Task]]:  # fmt: skip
        pairs = self.tasks_by_time(reverse=reverse)
        return islice(((uuid, t) for uuid, t in pairs if t.worker is not None and t.worker.hostname == hostname), limit)

    def task_types(self) -> list[str]:
        return sorted(self._seen_types)

    def alive_workers(self) -> Iterator[objects.Worker]:
        return (worker for worker in self.workers.values() if worker.alive)


def _task_fields(event: dict[str, Any]) -> dict[str, Any]:
    """An event's fields that describe the task (the worker's own ones stay with the worker)."""
    return {k: v for k, v in event.items() if k not in ("hostname", "pid", "utcoffset", "local_received")}
