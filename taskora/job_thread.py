"""The job a worker's slot thread ran last, for what that thread does on the job's behalf after its handler.

A slot thread runs a job's handler itself, or hands the call to its process's main thread (a prefork child
running one job at a time, worker/main_thread.py), and then records the outcome, which may dispatch more jobs
(a workflow's next step, enqueued as the step before completes). Code that needs to know on whose behalf such a
dispatch is made asks ``last_job_here()``: the OpenTelemetry middleware (otel.py) makes the next step's publish
span a child of the step before's process span, though that span lived on another thread. The slot thread sets
it (``ran_here``) as it starts each job, whichever thread then runs the handler.
"""

from __future__ import annotations

import threading

_here = threading.local()


def ran_here(job_id: str) -> None:
    """The calling (slot) thread starts ``job_id``: what it dispatches until its next job is on that job's behalf."""
    _here.job_id = job_id


def last_job_here() -> str | None:
    """The id of the job the calling thread started last, or None (not a worker's slot thread)."""
    return getattr(_here, "job_id", None)
