"""A module only ``taskora worker -I tests.cli.proj_extra`` imports: it adds a task to proj_native's app."""

from __future__ import annotations

from typing import Any

from .proj_native import app


@app.task("extra")
def extra(data: Any) -> str:
    return "extra-ran"
