"""Install each optional extra of the built wheel into a clean virtualenv and use the feature it is for.

    python scripts/check_extras.py VENV_PYTHON WHEEL   (.ci/wheel runs it after the wheel's smoke test)

Each feature extra (``taskora[pydantic]``, ``[prometheus]``, ``[otel]``, ``[sentry]``, ``[board]``) is installed
in turn with the virtualenv's pip, then a short program runs on the in-memory engine with ``python -I`` (away
from the source tree) and uses what the extra brings: a schema-checked task, a ``/metrics`` page, the tracing
and error-reporting middlewares, the board as an ASGI app. An extra in setup.cfg that is neither a feature
listed here nor a tool set (``NOT_FEATURES``) fails the check, so a new extra comes with its use.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Extras that are tool sets for working on taskora, not features of it.
NOT_FEATURES = ("test", "dev", "docs")

#: Per feature extra: a program that uses it (the in-memory engine, no server) and prints ``ok``.
USES = {
    "pydantic": """
import pydantic
from taskora import Taskora, ValidationError
class Order(pydantic.BaseModel):
    qty: int = pydantic.Field(gt=0)
app = Taskora()
@app.task("price", input=Order)
def price(order: Order) -> int:
    return order.qty * 2
try:
    price.dispatch({"qty": 0})
    raise SystemExit("a bad input was accepted")
except ValidationError:
    pass
app.start()
assert price.dispatch({"qty": 3}).result(timeout=10) == 6
app.close()
""",
    "prometheus": """
from taskora import Taskora
from taskora.prometheus import render
app = Taskora()
@app.task("noop")
def noop(data):
    return data
assert b"taskora_" in render(app)
app.close()
""",
    "otel": """
from opentelemetry.sdk.trace import TracerProvider
from taskora.otel import OpenTelemetryMiddleware
from taskora.compat.contrib.otel import instrument
provider = TracerProvider()
OpenTelemetryMiddleware(tracer_provider=provider)
instrument(tracer_provider=provider)()  # the Celery front's tracing: connected, then disconnected
""",
    "sentry": """
from taskora.sentry import SentryMiddleware
SentryMiddleware()
""",
    "board": """
import uvicorn  # noqa: F401 - what `taskora board` serves the board with
from taskora import Taskora
from taskora.board.app import create_board
app = Taskora()
assert callable(create_board(app, auth=False))
app.close()
""",
}


def setup_cfg_extras() -> list[str]:
    """The extras setup.cfg declares, in its order."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    return list(config["options.extras_require"])


def uncovered_extras() -> list[str]:
    """Extras of setup.cfg this script would not check (and listed uses of extras that no longer exist)."""
    declared = setup_cfg_extras()
    missing = [extra for extra in declared if extra not in USES and extra not in NOT_FEATURES]
    return missing + [f"{extra} (not in setup.cfg)" for extra in USES if extra not in declared]


def check_use(python: str, extra: str) -> str | None:
    """Run the extra's program with ``python -I``; None when it printed ``ok``, else what went wrong."""
    program = USES[extra] + "\nprint('ok')\n"
    done = subprocess.run([python, "-I", "-c", program], capture_output=True, text=True, timeout=300)
    if done.returncode == 0 and done.stdout.strip().endswith("ok"):
        return None
    return f"taskora[{extra}]: its use failed ({done.returncode}):\n{done.stdout}{done.stderr}"


def install(python: str, wheel: str, extra: str) -> None:
    subprocess.run([python, "-m", "pip", "install", "-q", f"{wheel}[{extra}]"], check=True, timeout=900)


def main(python: str, wheel: str) -> int:
    problems = [f"setup.cfg extra without a check here: {extra}" for extra in uncovered_extras()]
    for extra in USES:
        install(python, wheel, extra)
        problem = check_use(python, extra)
        problems += [problem] if problem else []
        print(f"extras: taskora[{extra}] {'FAILED' if problem else 'installs and works'}")
    print("\n".join(problems) if problems else "extras: all checked")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], str(Path(sys.argv[2]).resolve())))
