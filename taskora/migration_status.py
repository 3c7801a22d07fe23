"""``app.inspect().migrations(task)``: which payload versions the queued jobs of a task carry, against the
versions its handler accepts here, so an operator knows when ``since`` can be raised (seeds: MigrationStatus).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import Taskora


@dataclass(frozen=True)
class VersionCounts:
    """Jobs of one state per payload version; ``oldest`` is None when the state holds no job."""

    by_version: dict[int, int] = field(default_factory=dict)

    @property
    def oldest(self) -> int | None:
        return min(self.by_version) if self.by_version else None

    @property
    def total(self) -> int:
        return sum(self.by_version.values())


@dataclass(frozen=True)
class MigrationStatus:
    """A task's ``version``/``since``, how many migration steps it has, and its waiting (``queue``) and
    delayed jobs per version. ``can_bump_since`` is the highest ``since`` no queued job would fall below."""

    task: str
    version: int
    since: int
    migrations: int
    queue: VersionCounts
    delayed: VersionCounts

    @property
    def newer(self) -> dict[int, int]:
        """Queued jobs (waiting or delayed) stamped with a version above this app's ``version``, per version:
        dispatched by newer code, they wait for a newer worker (a worker of this version hands them back
        without running or failing them, taskora/version_handoff.py)."""
        counts = dict(self.queue.by_version)
        for version, jobs in self.delayed.by_version.items():
            counts[version] = counts.get(version, 0) + jobs
        return {version: jobs for version, jobs in sorted(counts.items()) if version > self.version}

    @property
    def can_bump_since(self) -> int:
        oldest = [v for v in (self.queue.oldest, self.delayed.oldest) if v is not None]
        return min(min(oldest), self.version) if oldest else self.version


def migration_status(app: Taskora, task: str) -> MigrationStatus:
    """Count the waiting and delayed jobs of ``task`` per ``_v`` (a Lua script over bounded slices of each
    queue key, adapters/versions.py)."""
    versions = app.get_task(task).io.versions
    return MigrationStatus(
        task=task, version=versions.version, since=versions.since, migrations=len(versions.steps),
        queue=VersionCounts(app.adapter.job_versions(task, "waiting")),
        delayed=VersionCounts(app.adapter.job_versions(task, "delayed")),
    )  # fmt: skip
