"""taskora's testing kit: ``TestRunner`` (the real engine in memory, on a virtual clock) and the
pytest plugin (``taskora.pytest_plugin``, installed as the ``taskora`` pytest11 entry point)."""

from __future__ import annotations

from .results import ExecutionResult
from .runner import MAX_TIME_JUMPS, TestRunner, create_test_runner
from .steps import WorkflowStep
from .timeline import MAX_STEPS

__all__ = ["MAX_STEPS", "MAX_TIME_JUMPS", "ExecutionResult", "TestRunner", "WorkflowStep", "create_test_runner"]
