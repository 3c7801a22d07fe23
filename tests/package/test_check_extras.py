"""scripts/check_extras.py (run by .ci/wheel on the built wheel): every extra of setup.cfg has a use it checks,
and each use works where its extra is installed (this test's virtualenv holds them all through ``[test]``)."""

from __future__ import annotations

import sys

import pytest

from tests.paths import load_script

check_extras = load_script("check_extras")


def test_every_extra_of_setup_cfg_has_a_checked_use() -> None:
    assert check_extras.uncovered_extras() == []
    assert set(check_extras.USES) >= {"pydantic", "prometheus", "otel", "sentry", "board"}


@pytest.mark.parametrize("extra", sorted(check_extras.USES))
def test_the_use_of_an_installed_extra_works(extra: str) -> None:
    assert check_extras.check_use(sys.executable, extra) is None


def test_a_failing_use_is_reported_with_its_extra_and_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(check_extras.USES, "broken", "import taskora.no_such_module\n")
    problem = check_extras.check_use(sys.executable, "broken")
    assert problem is not None and problem.startswith("taskora[broken]: its use failed (1)")
    assert "No module named 'taskora.no_such_module'" in problem
