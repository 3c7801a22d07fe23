"""``python -m taskora.testing.worker_process URL SPEC [worker options]``: ``taskora worker -A SPEC``, on URL.

The pytest plugin's ``taskora_worker`` runs this: the user's app module names its production broker,
so the app is loaded, pointed at the test's Redis, and then handed to the ordinary ``taskora worker``
command (which finds the same, already imported app object). SPEC must name an app, not a factory.
"""

from __future__ import annotations

import sys

from ..cli import cli
from ..cli._app import load_app
from ..redis import redis_adapter


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: python -m taskora.testing.worker_process REDIS_URL APP_SPEC [worker options]")
    url, spec, *options = argv
    loaded = load_app(spec)
    loaded.app.rebind(redis_adapter(url))
    cli.main(["worker", "-A", spec, *options], prog_name="taskora")


if __name__ == "__main__":
    main(sys.argv[1:])
