"""TaskIO: one task's input/output schemas and payload versions, applied at the three boundaries a job
crosses: dispatch (validate, then store JSON), the worker before the handler (migrate, then validate) and
the worker after it (validate the result, then store JSON). A task with none of these costs one check.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .schemas import Schema, as_schema, dump_value
from .versioning import Versioning, parse_versioning

if TYPE_CHECKING:
    from .app import Taskora
    from .options import TaskOptions

#: Values stored as they are: a returned value of one of these types needs no model dump.
_PLAIN = (dict, list, str, int, float, bool, type(None), tuple)


@dataclass(frozen=True)
class TaskIO:
    """What the worker and ``dispatch`` apply to a task's data; built (and checked) when the task is declared."""

    task: str
    input: Schema | None
    output: Schema | None
    versions: Versioning

    @classmethod
    def build(cls, task: str, options: TaskOptions) -> tuple[TaskIO, TaskOptions]:
        """Check the task's schemas and versions (errors name the task); returns the options with the version
        a list of migration steps implies."""
        where = f"task {task!r}"
        version = None if options.version == 1 else options.version  # 1 is the default: a list may imply more
        versions = parse_versioning(task, version, options.since, options.migrate)
        io = cls(task, as_schema(options.input, f"{where}: input"), as_schema(options.output, f"{where}: output"),
                 versions)
        if versions.version != options.version:
            options = replace(options, version=versions.version)
        return io, options

    # -- dispatch -------------------------------------------------------------------------------------
    def for_dispatch(self, data: Any, validate: bool) -> Any:
        """The data to store for a new job: validated by the input schema unless ``validate`` is False, and
        dumped to plain JSON-able values (a model instance passed as data included)."""
        if self.input is None:
            return data if isinstance(data, _PLAIN) else dump_value(data)
        if validate:
            data = self.input.validate(data, f"task {self.task!r} input")
        return data if isinstance(data, _PLAIN) else self.input.dump(data)

    # -- worker -----------------------------------------------------------------------------------------
    def for_handler(self, data: Any, job_version: int) -> Any:
        """A claimed job's data as the handler receives it: migrated from ``job_version``, then validated."""
        if job_version != self.versions.version or not self.versions.trivial:
            data = self.versions.migrate(self.task, data, job_version)
        if self.input is not None:
            data = self.input.validate(data, f"task {self.task!r} input")
        return data

    def for_result(self, result: Any) -> Any:
        """The handler's return value as stored: validated by the output schema, a model dumped to JSON."""
        if self.output is not None:
            result = self.output.validate(result, f"task {self.task!r} output")
            return result if isinstance(result, _PLAIN) else self.output.dump(result)
        return result if isinstance(result, _PLAIN) else dump_value(result)

    # -- producer ---------------------------------------------------------------------------------------
    def typed_result(self, value: Any) -> Any:
        """A stored result as the producer receives it: an instance of the output model when there is one."""
        if self.output is None:
            return value
        return self.output.validate(value, f"task {self.task!r} result")


def typed_result(app: Taskora, task: str | None, value: Any) -> Any:
    """A stored result of a job of ``task`` as its producer receives it (the output model when it has one)."""
    found = app.tasks.get(task) if task else None
    return value if found is None else found.io.typed_result(value)
