"""Run Celery's own integration suite (``t/integration`` of the pinned sdist) against taskora.compat.

    python -m conformance.celery_suite [--files test_tasks.py,...] [--timeout 30] [--celery-version 5.7.0]
                                       [--check-floor] [--write-floor] [--workdir DIR] [--select CLASS]
                                       [--exclude TEST]

Steps: get the sdist (``pip download``), extract ``t/integration``, rewrite its imports with
``scripts/migrate_imports.py``, start a private redis-server, and run each test file through pytest
in its own process (taskora's ``taskora_celery`` plugin provides Celery's fixtures; the suite's
``celery_session_worker`` is an embedded taskora worker on the Redis broker and backend). Tests
listed in ``conformance/not_applicable.txt`` are left out. Prints one line per file and a final
``N passed, M failed``; ``--check-floor`` exits 1 when a file (or the total of the files run) passes
fewer tests than recorded in ``conformance/floor.txt``, so a subset run (``--files``) is checked too.
A test counts as passed only when its setup, call and teardown all pass.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .redis_server import RedisServer
from .sdist import DEFAULT_VERSION, SdistUnavailable, celery_sdist, extract

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOT_APPLICABLE = HERE / "not_applicable.txt"
FLOOR = HERE / "floor.txt"
#: Modules of Celery's ``t/`` (outside t/integration) that the suite imports.
HELPERS = ("canvas_helpers.py",)
#: Modules the run needs -> the package providing it (pytest-timeout for the per-test timeout; the
#: others are imported by Celery's t/integration itself).
REQUIRED = {"pytest_timeout": "pytest-timeout", "pydantic": "pydantic", "billiard": "billiard",
            "cryptography": "cryptography"}
PYTEST_INI = """[pytest]
addopts = -p no:cacheprovider
python_classes = test_*
xfail_strict = true
markers =
    flaky: Celery's rerun marker (inert here: pytest-rerunfailures is not used)
    timeout: per-test timeout (pytest-timeout)
    amqp: RabbitMQ-only test
    celery(**overrides): override celery configuration for a test case
"""


@dataclass
class FileResult:
    """Outcome counts of one test file, and how long its pytest process ran."""

    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_applicable: int = 0
    #: tests whose body (the call phase) passed, whatever their fixtures' setup/teardown did
    body_passed: int = 0
    seconds: float = 0.0
    note: str = ""
    failures: list[str] = field(default_factory=list)


def load_not_applicable(path: Path = NOT_APPLICABLE) -> dict[str, str]:
    """``{file or node id: reason}`` from the not-applicable list (``#`` comments, ``entry | reason`` lines)."""
    entries = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry, sep, reason = (part.strip() for part in line.partition("|"))
        if not sep or not reason:
            raise ValueError(f"{path}:{number}: expected '<file>[::<test>] | <reason>', got {line!r}")
        entries[entry] = reason
    return entries


def read_floor(path: Path | None = None) -> dict[str, int]:
    """``{test file: passed}`` as last recorded (lines ``<file> <passed>``; ``#`` comments)."""
    path = path or FLOOR
    floor = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, _, count = line.strip().partition(" ")
        if not name.partition("::")[0].endswith(".py") or not count.strip().isdigit():
            raise ValueError(f"{path}:{number}: expected '<test file> <passed count>' "
                             f"(or '<test file>::<select> <passed count>'), got {line!r}")
        floor[name] = int(count)
    return floor


def write_floor(results: dict[str, int], path: Path | None = None) -> None:
    """Record the pass counts of the files just run (other files keep their entries)."""
    path = path or FLOOR
    comments = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    floor = {**read_floor(path), **results}
    path.write_text("\n".join([*comments, *(f"{name} {floor[name]}" for name in sorted(floor))]) + "\n",
                    encoding="utf-8")


def below_floor(results: dict[str, int], floor: dict[str, int]) -> list[str]:
    """What dropped: each file that passes fewer tests than recorded, and the total of the files run."""
    drops = [f"{name}: {passed} passed < floor {floor[name]}" for name, passed in results.items()
             if passed < floor.get(name, 0)]  # fmt: skip
    recorded = sum(floor.get(name, 0) for name in results)
    if sum(results.values()) < recorded:
        drops.append(f"total: {sum(results.values())} passed < floor {recorded}")
    return drops


def prepare_suite(version: str, workdir: Path, migrate: bool = True) -> Path:
    """The migrated suite's root folder (holding ``t/integration``, a pytest.ini and the harness conftest).

    ``migrate=False`` keeps Celery's own imports: the suite as Celery runs it, for a reference run.
    """
    tarball = celery_sdist(version)
    original = extract(tarball, "t/integration", workdir / "sdist")
    suite = workdir / "suite"
    if migrate:
        _load_migrate_imports().migrate_tree(original, suite / "t" / "integration")
    else:
        shutil.copytree(original, suite / "t" / "integration")
    for helper in HELPERS:  # imported by the suite, and free of celery imports (the rewrite checks it)
        shutil.copy(extract(tarball, f"t/{helper}", workdir / "sdist"), suite / "t" / helper)
    (suite / "t" / "__init__.py").write_text("", encoding="utf-8")
    (suite / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    (suite / "conftest.py").write_text((HERE / "suite_conftest.py").read_text(encoding="utf-8"), encoding="utf-8")
    return suite


def _load_migrate_imports():  # noqa: ANN202 - a module loaded from a file path
    spec = importlib.util.spec_from_file_location("migrate_imports", ROOT / "scripts" / "migrate_imports.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("migrate_imports", module)
    spec.loader.exec_module(module)
    return module


def select_files(suite: Path, wanted: list[str] | None, skipped: dict[str, str]) -> list[str]:
    """The test files to run: all of ``t/integration`` (or ``wanted``) minus the not-applicable ones."""
    available = sorted(p.name for p in (suite / "t" / "integration").glob("test_*.py"))
    if wanted:
        names = [Path(w).name for w in wanted]
        unknown = [n for n in names if n not in available]
        if unknown:
            raise SystemExit(f"celery_suite: no such test file in t/integration: {', '.join(unknown)}")
        available = names
    return [name for name in available if name not in skipped]


def run_file(suite: Path, name: str, redis_url: str, timeout: float, not_applicable: dict[str, str],
             reference_python: str | None = None, select: str | None = None,
             exclude: str | None = None) -> FileResult:  # fmt: skip
    """Run one file in its own pytest process and count its outcomes from the harness log.

    ``reference_python``: an interpreter with Celery installed, running the unmigrated suite with Celery's
    plugin (Celery 5 no longer registers it as an entry point); by default, this interpreter and taskora's.
    """
    log = Path(tempfile.mkstemp(prefix="conformance-", suffix=".jsonl")[1])
    deselect = [f"t/integration/{entry}" for entry in not_applicable if entry.startswith(f"{name}::")]
    left_out = [f"t/integration/{name}::{part.strip()}" for part in (exclude or "").split(",") if part.strip()]
    plugin = ["-p", "celery.contrib.pytest"] if reference_python else []
    targets = [f"t/integration/{name}::{part.strip()}" for part in select.split(",")] if select else \
        [f"t/integration/{name}"]
    command = [reference_python or sys.executable, "-m", "pytest", *targets, "-q", "-p",
               "no:cacheprovider", *plugin, *[arg for node in deselect + left_out for arg in ("--deselect", node)]]
    started = time.monotonic()
    note, output = "", ""
    try:
        done = subprocess.run(command, cwd=suite, env=_env(redis_url, timeout, log), capture_output=True, text=True,
                              timeout=_file_budget(suite / "t" / "integration" / name, timeout))
        output = done.stdout + done.stderr  # a conftest that fails to import reports on stderr
    except subprocess.TimeoutExpired:
        note = "killed: the file outlasted its budget; tests that never finished count as failed"
    result = tally(name, log, note, _first_error(output))
    result.not_applicable = len(deselect)
    result.seconds = time.monotonic() - started
    log.unlink(missing_ok=True)
    return result


def _first_error(output: str) -> str:
    """The first ``E   `` line of pytest's output: why a file could not even be collected."""
    return next((line[1:].strip() for line in output.splitlines()
                 if line.startswith("E   ") and not line.rstrip().endswith("%]")), "")  # not a progress line


def _env(redis_url: str, timeout: float, log: Path) -> dict[str, str]:
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "TEST_", "NO_WORKER"))}
    env.update(TEST_BROKER=redis_url, TEST_BACKEND=redis_url, REDIS_HOST=host, REDIS_PORT=port,
               CONFORMANCE_RESULTS=str(log), CONFORMANCE_TIMEOUT=str(timeout), PYTHONUNBUFFERED="1")
    env.setdefault("WORKER_LOGLEVEL", "INFO")  # as Celery's tox.ini runs t/integration (its trace-log tests need it)
    return env


def _file_budget(path: Path, timeout: float) -> float:
    """A whole-file limit: 60 s plus 5 s a test (Celery itself runs test_canvas.py's 212 in ~890 s here).

    Why not ``timeout`` per test: a hang the per-test timeout does not catch (seen in test_canvas.py, a
    test blocked in BLPOP with no SIGALRM handler armed) would then cost hours; past the budget the
    file is killed and its unfinished tests count as failed.
    """
    tests = path.read_text(encoding="utf-8").count("def test_")
    return max(60 + 5 * tests, 3 * timeout)


def tally(name: str, log: Path, note: str = "", collection_error: str = "") -> FileResult:
    """Count passed/failed/skipped per test from the log (a failed setup or teardown fails the test)."""
    result = FileResult(name, note=note)
    collected: list[str] = []
    outcomes: dict[str, set[str]] = {}
    body_ok: set[str] = set()
    for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
        entry = json.loads(line)
        if "collected" in entry:
            collected = entry["collected"]
        else:
            kind = "skipped" if entry["xfail"] else entry["outcome"]
            outcomes.setdefault(entry["nodeid"], set()).add(kind)
            if entry["when"] == "call" and kind == "passed":  # a test with subtests reports several calls
                body_ok.add(entry["nodeid"])
    if not collected and not outcomes:
        result.failed, result.note = 1, f"nothing collected: {note or collection_error or 'the file did not import'}"
        return result
    result.body_passed = len(body_ok)
    for nodeid in collected or list(outcomes):
        seen = outcomes.get(nodeid, {"failed"})  # collected but never reported: it did not run to the end
        if "failed" in seen:
            result.failed += 1
            result.failures.append(nodeid)
        elif "skipped" in seen:
            result.skipped += 1
        else:
            result.passed += 1
    return result


def flush(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushall()


def report(results: list[FileResult], skipped_files: dict[str, str], seconds: float) -> tuple[int, int]:
    """Print the per-file table and the final line; returns ``(passed, failed)``."""
    print(f"{'file':<40} {'passed':>6} {'failed':>6} {'skipped':>7} {'n/a':>4} {'body-ok':>7} {'seconds':>8}")
    for r in results:
        print(f"{r.name:<40} {r.passed:>6} {r.failed:>6} {r.skipped:>7} {r.not_applicable:>4} {r.body_passed:>7} "
              f"{r.seconds:>8.1f}" + (f"  ({r.note})" if r.note else ""))
    for name, reason in skipped_files.items():
        print(f"{name:<40} {'-':>6} {'-':>6} {'-':>7} {'all':>4} {'-':>7} {'-':>8}  (n/a: {reason})")
    passed, failed = sum(r.passed for r in results), sum(r.failed for r in results)
    print(f"body-ok: {sum(r.body_passed for r in results)} tests whose body passed (a failing fixture teardown "
          f"still fails them); run time {seconds:.0f}s")
    print(f"{passed} passed, {failed} failed")
    return passed, failed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m conformance.celery_suite", description=__doc__.split("\n")[0])
    parser.add_argument("--files", action="append", default=[],
                        help="test files of t/integration to run (comma-separated or repeated; default: all)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-test timeout in seconds (default 30)")
    parser.add_argument("--celery-version", default=DEFAULT_VERSION, help=f"Celery sdist (default {DEFAULT_VERSION})")
    parser.add_argument("--check-floor", action="store_true", help="exit 1 if a file passes fewer tests than floor.txt")
    parser.add_argument("--write-floor", action="store_true", help="record this run's pass counts in floor.txt")
    parser.add_argument("--workdir", type=Path, help="keep the migrated suite here (default: a temp folder)")
    parser.add_argument("--failures", action="store_true", help="list the node ids of failing tests")
    parser.add_argument("--select", metavar="CLASS[,...]",
                        help="run only these classes or tests of each file (e.g. --files test_canvas.py "
                             "--select test_chain,test_group); its floor line is '<file>::<select> <passed>'")
    parser.add_argument("--exclude", metavar="TEST[,...]",
                        help="leave these classes or tests of each file out (e.g. --select test_chord --exclude "
                             "test_chord::test_x); its floor line is '<file>::<select>!<exclude> <passed>'")
    parser.add_argument("--reference-python", metavar="PYTHON",
                        help="run Celery's unmigrated suite with this interpreter (a venv with celery installed) "
                             "to measure Celery's own results; the floor is neither checked nor written")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [] if args.reference_python else [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        print(f"celery_suite: Celery's suite needs {', '.join(REQUIRED[m] for m in missing)} "
              f"(pip install {' '.join(REQUIRED[m] for m in missing)})", file=sys.stderr)
        return 2
    wanted = [name.strip() for value in args.files for name in value.split(",") if name.strip()]
    with tempfile.TemporaryDirectory(prefix="taskora-conformance-") as scratch:
        workdir = args.workdir or Path(scratch)
        try:
            suite = prepare_suite(args.celery_version, workdir, migrate=not args.reference_python)
        except (SdistUnavailable, FileExistsError) as exc:
            print(f"celery_suite: {exc}", file=sys.stderr)
            return 2
        passed = _run_all(suite, wanted, args)
    return 0 if args.reference_python else _floor_verdict(passed, args)


def _run_all(suite: Path, wanted: list[str], args: argparse.Namespace) -> dict[str, int]:
    not_applicable = load_not_applicable()
    skipped_files = {k: v for k, v in not_applicable.items() if "::" not in k and (not wanted or k in wanted)}
    files = select_files(suite, wanted, skipped_files)
    started, results = time.monotonic(), []
    with RedisServer() as server:
        for name in files:
            flush(server.url)
            results.append(run_file(suite, name, server.url, args.timeout, not_applicable, args.reference_python,
                                    args.select, args.exclude))
            print(f"# {name}: {results[-1].passed} passed, {results[-1].failed} failed", flush=True)
    report(results, skipped_files, time.monotonic() - started)
    if args.failures:
        for r in results:
            print("\n".join(f"FAILED {nodeid}" for nodeid in r.failures))
    return {floor_key(r.name, args.select, args.exclude): r.passed for r in results}


def floor_key(name: str, select: str | None, exclude: str | None) -> str:
    """A run's line in floor.txt: the file, then ``::<select>`` and ``!<exclude>`` when the run had them."""
    return name + (f"::{select}" if select else "") + (f"!{exclude}" if exclude else "")


def _floor_verdict(passed: dict[str, int], args: argparse.Namespace) -> int:
    if args.write_floor:
        write_floor(passed)
    drops = below_floor(passed, read_floor()) if args.check_floor else []
    for drop in drops:
        print(f"celery_suite: below the recorded floor: {drop}", file=sys.stderr)
    return 1 if drops else 0


if __name__ == "__main__":
    sys.exit(main())
