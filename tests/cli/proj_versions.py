"""A module only ``taskora worker -I tests.cli.proj_versions`` imports: it adds task ``mail`` at payload version 1
(last week's code) to proj_native's app, for the rolling-deploy test of tests/cli/test_version_handoff.py."""

from __future__ import annotations

from typing import Any

from .proj_native import app


@app.task("mail")
def mail(data: dict[str, Any]) -> str:
    return f"v1 sent {data['to']}"
