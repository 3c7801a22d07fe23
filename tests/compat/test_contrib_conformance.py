"""The Celery-suite harness (``python -m conformance.celery_suite``): its lists, counting, timeout and command."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest

from conformance import celery_suite
from conformance.sdist import SdistUnavailable, celery_sdist, extract

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def integration(tmp_path_factory) -> Path:
    """Celery 5.7.0's t/integration, unmigrated."""
    try:
        tarball = celery_sdist("5.7.0")
    except SdistUnavailable as exc:
        pytest.skip(f"no network and no local copy of the celery 5.7.0 sdist: {exc}")
    return extract(tarball, "t/integration", tmp_path_factory.mktemp("sdist"))


def test_every_not_applicable_entry_names_a_real_test_and_gives_a_reason(integration):
    entries = celery_suite.load_not_applicable()
    assert entries, "the list is empty"
    for entry, reason in entries.items():
        file, _, node = entry.partition("::")
        assert (integration / file).is_file(), entry
        assert node.split("::")[-1] in (integration / file).read_text(), entry
        assert len(reason) > 20, entry


def test_a_malformed_not_applicable_line_is_refused_naming_it(tmp_path):
    listing = tmp_path / "na.txt"
    listing.write_text("# comment\ntest_x.py | fine reason here\ntest_y.py\n")
    with pytest.raises(ValueError, match=r"na.txt:3: expected .* got 'test_y.py'"):
        celery_suite.load_not_applicable(listing)


def _log(tmp_path: Path, *entries: dict) -> Path:
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return log


def _report(nodeid: str, when: str, outcome: str, xfail: bool = False) -> dict:
    return {"nodeid": nodeid, "when": when, "outcome": outcome, "xfail": xfail}


def test_tally_fails_a_test_whose_teardown_fails_and_one_that_never_finished(tmp_path):
    log = _log(tmp_path, {"collected": ["a", "b", "c", "d", "e"]},
               _report("a", "setup", "passed"), _report("a", "call", "passed"), _report("a", "teardown", "passed"),
               _report("b", "call", "passed"), _report("b", "teardown", "failed"),
               _report("c", "setup", "skipped"),
               _report("d", "call", "skipped", xfail=True),
               _report("a", "call", "passed"))  # a second call report: a subtest  # fmt: skip
    result = celery_suite.tally("test_f.py", log)
    assert (result.passed, result.failed, result.skipped, result.body_passed) == (1, 2, 2, 2)
    assert result.failures == ["b", "e"]


def test_tally_of_a_file_that_did_not_import_is_one_failure_with_the_reason(tmp_path):
    result = celery_suite.tally("test_f.py", tmp_path / "missing.jsonl", "ImportError: no module x")
    assert (result.passed, result.failed) == (0, 1)
    assert result.note == "nothing collected: ImportError: no module x"


def test_the_harness_timeout_beats_a_suites_longer_timeout_marker(tmp_path):
    (tmp_path / "conftest.py").write_text((ROOT / "conformance" / "suite_conftest.py").read_text())
    (tmp_path / "test_slow.py").write_text(
        "import threading, pytest\n\n"
        "@pytest.mark.timeout(300)\n"
        "def test_hangs():\n"
        "    threading.Event().wait(60)\n\n"
        "def test_quick():\n"
        "    pass\n\n"
        "def test_left_out():\n"
        "    pass\n"
    )
    log = tmp_path / "log.jsonl"
    env = {"CONFORMANCE_RESULTS": str(log), "CONFORMANCE_TIMEOUT": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_slow.py",
                           "--deselect", "test_slow.py::test_left_out"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=50)  # fmt: skip
    assert "Timeout" in done.stdout, done.stdout[-2000:]
    result = celery_suite.tally("test_slow.py", log)
    assert (result.passed, result.failed) == (1, 1)  # the deselected test is neither


def test_a_test_whose_subtests_swallow_the_timeout_still_ends_soon_after_its_limit(tmp_path):
    # pytest's subtests.test() swallows pytest-timeout's Failed: without the backstop this loop of waits
    # (test_chord's header-errback tests, a 60 s BLPOP each) ran for minutes past the limit
    (tmp_path / "conftest.py").write_text((ROOT / "conformance" / "suite_conftest.py").read_text())
    (tmp_path / "test_loop.py").write_text(
        "import threading\n\n"
        "def test_waits_in_subtests(subtests):\n"
        "    for _ in range(5):\n"
        "        with subtests.test(msg='a wait'):\n"
        "            threading.Event().wait(60)\n\n"
        "def test_after():\n"
        "    pass\n"
    )
    log = tmp_path / "log.jsonl"
    env = {"CONFORMANCE_RESULTS": str(log), "CONFORMANCE_TIMEOUT": "1", "PATH": "/usr/bin:/bin"}
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_loop.py"], cwd=tmp_path,
                   env=env, capture_output=True, text=True, timeout=100)  # fmt: skip
    assert time.monotonic() - started < 40
    result = celery_suite.tally("test_loop.py", log)
    assert (result.passed, result.failed) == (1, 1)


def test_a_known_long_test_gets_its_own_timeout_and_the_others_keep_the_harness_one(tmp_path):
    (tmp_path / "conftest.py").write_text((ROOT / "conformance" / "suite_conftest.py").read_text())
    (tmp_path / "t" / "integration").mkdir(parents=True)
    (tmp_path / "t" / "integration" / "test_tasks.py").write_text(
        "import threading\n\n"
        "class test_tasks:\n"
        "    def test_retry(self):\n"
        "        threading.Event().wait(2)\n\n"
        "    def test_other(self):\n"
        "        threading.Event().wait(2)\n"
    )
    log = tmp_path / "log.jsonl"
    env = {"CONFORMANCE_RESULTS": str(log), "CONFORMANCE_TIMEOUT": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "python_classes=test_*",
                    "t/integration/test_tasks.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                   timeout=50)  # fmt: skip
    result = celery_suite.tally("test_tasks.py", log)
    assert (result.passed, result.failed) == (1, 1)
    assert result.failures == ["t/integration/test_tasks.py::test_tasks::test_other"]


def test_floor_is_per_file_and_check_floor_fails_when_a_file_drops(tmp_path, monkeypatch):
    floor = tmp_path / "floor.txt"
    floor.write_text("# the ratchet\ntest_a.py 5\ntest_b.py 2\n")
    monkeypatch.setattr(celery_suite, "FLOOR", floor)
    check = Namespace(write_floor=False, check_floor=True)
    assert celery_suite._floor_verdict({"test_a.py": 4, "test_b.py": 9}, check) == 1  # a file dropped
    assert celery_suite._floor_verdict({"test_a.py": 5}, check) == 0  # a subset run checks its own files
    assert celery_suite._floor_verdict({"test_new.py": 0}, check) == 0
    celery_suite._floor_verdict({"test_a.py": 7}, Namespace(write_floor=True, check_floor=False))
    assert floor.read_text() == "# the ratchet\ntest_a.py 7\ntest_b.py 2\n"
    floor.write_text("test_a.py five\n")
    with pytest.raises(ValueError, match="floor.txt:1: expected '<test file> <passed count>'"):
        celery_suite.read_floor(floor)
    assert isinstance(celery_suite.read_floor(ROOT / "conformance" / "floor.txt"), dict)  # the recorded one parses


def test_the_command_runs_a_file_and_prints_the_table_and_final_line(integration):
    missing = [m for m in celery_suite.REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"Celery's suite needs {', '.join(celery_suite.REQUIRED[m] for m in missing)} installed")
    done = subprocess.run([sys.executable, "-m", "conformance.celery_suite", "--files", "test_loader.py",
                           "--timeout", "20", "--check-floor"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"\d+ passed, \d+ failed", lines[-1])
    assert any(line.startswith("test_loader.py ") for line in lines)
    assert not any(line.startswith("test_tasks.py ") for line in lines)


def test_an_unknown_file_is_a_clear_error(integration):
    if any(importlib.util.find_spec(m) is None for m in celery_suite.REQUIRED):
        pytest.skip("Celery's suite requirements are not installed")
    done = subprocess.run([sys.executable, "-m", "conformance.celery_suite", "--files", "test_nope.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "no such test file in t/integration: test_nope.py" in done.stderr


def test_select_runs_only_the_named_classes_and_keys_its_floor_line(tmp_path):
    (tmp_path / "conftest.py").write_text((ROOT / "conformance" / "suite_conftest.py").read_text())
    (tmp_path / "pytest.ini").write_text(celery_suite.PYTEST_INI)  # Celery's lower-case test classes
    (tmp_path / "t" / "integration").mkdir(parents=True)
    (tmp_path / "t" / "integration" / "test_two.py").write_text(
        "class test_a:\n    def test_one(self):\n        pass\n\n"
        "class test_b:\n    def test_two(self):\n        pass\n    def test_three(self):\n        pass\n"
    )
    result = celery_suite.run_file(tmp_path, "test_two.py", "redis://127.0.0.1:1/0", 20, {}, select="test_b")
    assert (result.passed, result.failed) == (2, 0)
    floor = tmp_path / "floor.txt"
    floor.write_text("test_two.py::test_b 2\n")
    assert celery_suite.read_floor(floor) == {"test_two.py::test_b": 2}


def test_exclude_leaves_the_named_tests_out_and_keys_its_floor_line(tmp_path):
    (tmp_path / "conftest.py").write_text((ROOT / "conformance" / "suite_conftest.py").read_text())
    (tmp_path / "pytest.ini").write_text(celery_suite.PYTEST_INI)
    (tmp_path / "t" / "integration").mkdir(parents=True)
    (tmp_path / "t" / "integration" / "test_two.py").write_text(
        "class test_b:\n    def test_two(self):\n        pass\n    def test_slow(self):\n        pass\n"
    )
    result = celery_suite.run_file(tmp_path, "test_two.py", "redis://127.0.0.1:1/0", 20, {}, select="test_b",
                                   exclude="test_b::test_slow")
    assert (result.passed, result.failed) == (1, 0)
    key = celery_suite.floor_key("test_two.py", "test_b", "test_b::test_slow")
    assert key == "test_two.py::test_b!test_b::test_slow"
    floor = tmp_path / "floor.txt"
    floor.write_text("test_two.py::test_b!test_b::test_slow 1\n")
    assert celery_suite.read_floor(floor) == {"test_two.py::test_b!test_b::test_slow": 1}


def test_a_test_marked_xfail_counts_as_skipped_whether_it_fails_or_passes_strictly(tmp_path):
    # Celery's own run reports test_error_propagates_from_chord (xfail on Redis, Celery issue #6437) as
    # xfailed; on taskora it passes, which xfail_strict turns into a failure: both count as skipped
    (tmp_path / "conftest.py").write_text((ROOT / "conformance" / "suite_conftest.py").read_text())
    (tmp_path / "test_marks.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.xfail(reason='a bug of the other side')\n"
        "def test_xpasses():\n"
        "    pass\n\n"
        "@pytest.mark.xfail(reason='a bug here')\n"
        "def test_xfails():\n"
        "    assert False\n\n"
        "def test_fails():\n"
        "    assert False\n"
    )
    log = tmp_path / "log.jsonl"
    env = {"CONFORMANCE_RESULTS": str(log), "CONFORMANCE_TIMEOUT": "5", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "xfail_strict=true",
                           "test_marks.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=50)  # fmt: skip
    assert "XPASS(strict)" in done.stdout, done.stdout[-2000:]
    result = celery_suite.tally("test_marks.py", log)
    assert (result.passed, result.failed, result.skipped) == (0, 1, 2)
    assert result.failures == ["test_marks.py::test_fails"]
