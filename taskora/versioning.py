"""Payload versions: ``version``, ``since`` and ``migrate`` of a task, checked at declaration and applied by
the worker to a job stamped with an older ``_v`` (seeds: features/versioning).

``migrate`` comes in two forms:

* a dict of sparse steps, ``{2: fn, 3: fn}``: step ``k`` turns version ``k-1`` data into version ``k``; a
  version with no step passes its data on unchanged (an additive change covered by schema defaults);
* a list of steps (the tuple form), ``[v1_to_v2, v2_to_v3]``: step ``i`` turns ``since+i`` into
  ``since+i+1``, and the version is ``since + len(steps)`` (a ``version=`` that disagrees is an error).

A job older than ``since`` is never run: it fails with SchemaVersionMismatchError naming both versions. A job
newer than the worker's ``version`` is never run either: the worker leaves it for a newer one
(taskora/version_handoff.py); ``check`` still refuses it for a caller that runs a job directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigurationError, MigrationError, SchemaVersionMismatchError
from .schemas import as_schema

Step = Callable[[Any], Any]


@dataclass(frozen=True)
class Versioning:
    """A task's accepted payload versions and the steps between them."""

    version: int = 1
    since: int = 1
    steps: Mapping[int, Step] = field(default_factory=dict)

    @property
    def trivial(self) -> bool:
        """Only the current version is accepted and nothing migrates: the worker skips every check but one."""
        return not self.steps

    def check(self, task: str, job_version: int) -> None:
        """Raise SchemaVersionMismatchError unless this worker can run a job stamped ``job_version``."""
        if job_version > self.version:
            raise SchemaVersionMismatchError.for_job("job_too_new", task, job_version, self.since, self.version)
        if job_version < self.since:
            raise SchemaVersionMismatchError.for_job("job_too_old", task, job_version, self.since, self.version)

    def migrate(self, task: str, data: Any, job_version: int) -> Any:
        """Run the steps from ``job_version`` up to ``version`` in order; a step that raises fails the job."""
        self.check(task, job_version)
        for target in range(job_version + 1, self.version + 1):
            step = self.steps.get(target)
            if step is None:
                continue
            try:
                data = step(data)
            except Exception as exc:
                raise MigrationError(f"task {task!r}: migration of a v{target - 1} job to v{target} raised "
                                     f"{type(exc).__name__}: {exc}") from exc
        return data


def parse_versioning(task: str, version: int | None, since: Any, migrate: Any) -> Versioning:
    """Check ``version``/``since``/``migrate`` of task ``task``; every error names the task."""
    where = f"task {task!r}"
    if since is not None and (isinstance(since, bool) or not isinstance(since, int) or since < 1):
        raise ConfigurationError(f"{where}: since must be an integer >= 1, got {since!r}")
    if isinstance(migrate, (list, tuple)):
        return _from_list(where, version, since or 1, migrate)
    if migrate is not None and not isinstance(migrate, Mapping):
        raise ConfigurationError(f"{where}: migrate must be a dict {{version: fn}} or a list of functions, "
                                 f"got {type(migrate).__name__}")
    if migrate and version is None:
        raise ConfigurationError(f"{where}: migrate given as a dict needs version= (the current payload version, "
                                 f"the highest step); or give migrate as a list of steps")
    version = version or 1
    since = since or 1
    if since > version:
        raise ConfigurationError(f"{where}: since ({since}) is above version ({version})")
    steps = dict(migrate or {})
    for key, step in steps.items():
        if isinstance(key, bool) or not isinstance(key, int) or not since < key <= version:
            raise ConfigurationError(f"{where}: migrate key {key!r} is out of range: a step migrates to a version "
                                     f"from {since + 1} (since+1) to {version} (version)")
        _check_step(where, key, step)
    return Versioning(version=version, since=since, steps=steps)


def _from_list(where: str, version: int | None, since: int, steps: Sequence[Any]) -> Versioning:
    derived = since + len(steps)
    if version is not None and version != derived:
        raise ConfigurationError(f"{where}: version={version} disagrees with since ({since}) + {len(steps)} "
                                 f"migration step(s) = {derived}; drop version= or fix the list")
    numbered = {since + i + 1: step for i, step in enumerate(steps)}
    for key, step in numbered.items():
        _check_step(where, key, step)
    return Versioning(version=derived, since=since, steps=numbered)


def _check_step(where: str, target: int, step: Any) -> None:
    if not callable(step):
        raise ConfigurationError(f"{where}: migration step to v{target} must be a function, got {step!r}")


def into(schema: Any, step: Step) -> Step:
    """A migration step whose result is checked against ``schema`` (then stored as plain data again), so a
    step that produces the wrong shape fails naming the schema rather than deep in the handler."""
    checked = as_schema(schema, "into()")
    assert checked is not None  # None is no schema: as_schema returned it unchanged

    def run(data: Any) -> Any:
        return checked.dump(checked.validate(step(data), "migration result"))

    run.__name__ = getattr(step, "__name__", "step")
    return run
