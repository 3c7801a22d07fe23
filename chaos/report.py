"""What a chaos run measured, from the per-process run files and the jobs' final states in Redis.

Definitions:
- lost: a job not in a final state (completed or failed) when the run ended;
- duplicate: a job whose handler finished successfully twice (two end records) although the process of the
  first successful run was not killed afterwards — it was alive to record that outcome, so the second run
  means a finished job ran again. If that process was killed between the handler's end and the outcome's
  write (the record is written inside the handler, the outcome after it returns), the job rightly runs
  again: such jobs are counted apart as ``rerun_after_late_kill``, with the longest end-to-kill gap. A kill
  more than ``grace`` seconds after the handler ended excuses nothing (an outcome is written within
  milliseconds, or as soon as Redis is back), so that job counts as a duplicate;
- re-executed: a job whose handler started more than once (a killed run is redelivered; expected under faults);
- hand-back delay: for a run cut short (a start without an end), the time from its process's death (the
  kill, or the poison job's own start) to the job being put back (its ``retrying``/``stalled`` event, or
  ``failed`` when it is out of attempts) — what the library controls, and what the exit code bounds;
- next-run delay: from that death to the job's next start; it adds the wait in the queue, since a job put
  back goes behind the jobs already waiting (FIFO), so it grows with the backlog.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FINAL = ("completed", "failed")


@dataclass
class Run:
    job: str
    attempt: int
    pid: int
    start: float
    end: float | None = None


def read_runs(run_dir: Path) -> dict[str, list[Run]]:
    """Every run of every job, sorted by start, from the ``runs-<pid>.log`` files (a torn last line is skipped)."""
    runs: dict[tuple[str, int, int], Run] = {}
    ends: list[tuple[str, int, int, float]] = []
    for path in sorted(run_dir.glob("runs-*.log")):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5:
                continue
            kind, job, attempt, pid, t = parts[0], parts[1], int(parts[2]), int(parts[3]), float(parts[4])
            if kind == "S":
                runs[(job, attempt, pid)] = Run(job, attempt, pid, t)
            else:
                ends.append((job, attempt, pid, t))
    for job, attempt, pid, t in ends:
        runs[(job, attempt, pid)].end = t
    by_job: dict[str, list[Run]] = defaultdict(list)
    for run in runs.values():
        by_job[run.job].append(run)
    for job_runs in by_job.values():
        job_runs.sort(key=lambda r: r.start)
    return by_job


def self_deaths(runs: dict[str, list[Run]], poison: set[str]) -> dict[int, float]:
    """When each process a poison job killed died: the poison run's start (it dies at once)."""
    return {r.pid: r.start for job in poison for r in runs.get(job, ())}


def hand_back_delays(runs: dict[str, list[Run]], deaths: dict[int, float],
                     hand_backs: dict[str, list[float]]) -> tuple[list[tuple[float, str]], list[str]]:  # fmt: skip
    """Seconds from each cut-short run's death to its job's next hand-back; and jobs with none seen."""
    delays, unseen = [], []
    for job, job_runs in runs.items():
        for run in job_runs:
            if run.end is not None:
                continue
            died = max(deaths.get(run.pid, run.start), run.start)
            after = [t for t in hand_backs.get(job, ()) if t >= run.start - 0.002]
            if after:
                delays.append((max(0.0, min(after) - died), job))
            else:
                unseen.append(job)
    return delays, unseen


def redelivery_delays(runs: dict[str, list[Run]], deaths: dict[int, float]) -> list[tuple[float, str]]:
    """Seconds from each cut-short run's death to the job's next start, with the job's id."""
    delays = []
    for job_runs in runs.values():
        for run, following in zip(job_runs, job_runs[1:], strict=False):
            if run.end is None:
                died = deaths.get(run.pid, run.start)
                delays.append((following.start - max(died, run.start), run.job))
    return delays


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _error_type(job: dict[str, Any]) -> str:
    """The type of the exception a failed job ended with: ``errorDetail``'s (the ``error`` field holds the bare
    message, as TypeScript writes it), else the ``Type:`` prefix of an error text the engine wrote itself."""
    try:
        return str(json.loads(job["errorDetail"])["type"])
    except (KeyError, TypeError, ValueError):
        return str(job.get("error", "")).split(":")[0]


def summarize(states: dict[str, dict[str, Any]], work: list[str], poison: list[str],
              runs: dict[str, list[Run]], deaths: dict[int, float],
              hand_backs: dict[str, list[float]], grace: float = 5.0) -> dict[str, Any]:  # fmt: skip
    """The report's numbers; ``states`` maps a job id to its fields in Redis (``{}`` if it is gone)."""
    all_deaths = {**self_deaths(runs, set(poison)), **deaths}
    slow = sorted(redelivery_delays(runs, all_deaths), reverse=True)
    delays = [d for d, _ in slow]
    backs, unseen = hand_back_delays(runs, all_deaths, hand_backs)
    backs.sort(reverse=True)
    back_delays = [d for d, _ in backs]
    lost = [j for j in work + poison if states.get(j, {}).get("state") not in FINAL]
    twice = {j: [r for r in runs.get(j, ()) if r.end is not None] for j in work}
    twice = {j: done for j, done in twice.items() if len(done) > 1}
    late_kills = {
        j: all_deaths[done[0].pid] - (done[0].end or 0)
        for j, done in twice.items()
        if 0 < all_deaths.get(done[0].pid, 0) - (done[0].end or 0) <= grace
    }
    duplicates = [j for j in twice if j not in late_kills]
    never_ran = [j for j in work if not runs.get(j)]
    poison_outcomes = Counter(
        f"{states.get(j, {}).get('state')}: {_error_type(states.get(j, {}))}" for j in poison
    )
    return {
        "jobs": len(work) + len(poison),
        "poison_jobs": len(poison),
        "lost": len(lost),
        "lost_ids": lost[:20],
        "duplicates": len(duplicates),
        "duplicate_ids": duplicates[:20],
        "rerun_after_late_kill": len(late_kills),
        "late_kill_max_gap": round(max(late_kills.values(), default=0.0), 3),
        "re_executed": sum(1 for j in work if len(runs.get(j, ())) > 1),
        "work_failed": sum(1 for j in work if states.get(j, {}).get("state") == "failed"),
        "work_failed_errors": Counter(
            str(states[j].get("error"))[:120] for j in work if states.get(j, {}).get("state") == "failed"
        ).most_common(5),
        "completed_without_a_run": len([j for j in never_ran if states.get(j, {}).get("state") == "completed"]),
        "poison_outcomes": dict(poison_outcomes),
        "poison_errors": Counter(_shape(str(states.get(j, {}).get("error", ""))) for j in poison).most_common(5),
        "slowest_redeliveries": [(round(d, 3), j) for d, j in slow[:5]],
        "poison_ok": all(
            states.get(j, {}).get("state") == "failed" and _error_type(states[j]) == "WorkerLostError"
            for j in poison
        ),
        "poison_runs": dict(Counter(len(runs.get(j, ())) for j in poison)),
        "hand_backs": len(backs),
        "hand_backs_unseen": len(unseen),
        "hand_back_p50": round(percentile(back_delays, 0.5), 3),
        "hand_back_p90": round(percentile(back_delays, 0.9), 3),
        "hand_back_max": round(max(back_delays, default=0.0), 3),
        "slowest_hand_backs": [(round(d, 3), j) for d, j in backs[:5]],
        "redeliveries": len(delays),
        "redelivery_p50": round(percentile(delays, 0.5), 3),
        "redelivery_p90": round(percentile(delays, 0.9), 3),
        "redelivery_max": round(max(delays, default=0.0), 3),
    }


def _shape(error: str) -> str:
    """An error message with its numbers blanked, so messages that differ only in counts group together."""
    return "".join("N" if c.isdigit() else c for c in error)[:100]


def verdict(summary: dict[str, Any], max_redelivery: float) -> list[str]:
    """Why the run failed (empty if it passed)."""
    problems = []
    if summary["lost"]:
        problems.append(f"{summary['lost']} job(s) lost: {summary['lost_ids']}")
    if summary["duplicates"]:
        problems.append(f"{summary['duplicates']} job(s) completed twice: {summary['duplicate_ids']}")
    if summary["hand_back_max"] > max_redelivery:
        problems.append(
            f"max hand-back delay {summary['hand_back_max']} s > {max_redelivery} s: "
            f"{summary['slowest_hand_backs'][:3]}"
        )
    if not summary["poison_ok"]:
        problems.append(f"poison jobs did not all fail with WorkerLostError: {summary['poison_outcomes']}")
    if summary["work_failed"]:
        problems.append(f"{summary['work_failed']} ordinary job(s) failed: {summary['work_failed_errors']}")
    return problems
