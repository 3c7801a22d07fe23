"""Interim stand-in for ``taskora worker -A MODULE -P solo|threads -c N`` (native app only).

Used by bench/lib_taskora.py only while the ``taskora worker`` command does not exist yet, so the
native scenarios can run against taskora's in-process worker (``app.start(concurrency=N)``) in a
separate process, just as the command would. It has no prefork pool: that scenario needs the real
command. The report says when this runner was used. Delete this file once the command exists.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.taskora_worker")
    parser.add_argument("-A", dest="app", required=True, help="module holding a Taskora app as `app`")
    parser.add_argument("-P", dest="pool", choices=["solo", "threads", "prefork"], default="threads")
    parser.add_argument("-c", dest="concurrency", type=int, default=1)
    parser.add_argument("-l", dest="loglevel", default="warning")
    args = parser.parse_args(argv)
    if args.pool == "prefork":
        print("prefork needs the `taskora worker` command; this interim runner has threads only",
              file=sys.stderr)
        return 2

    app = importlib.import_module(args.app).app
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    app.start(concurrency=1 if args.pool == "solo" else args.concurrency)
    while not stop.wait(0.5):  # runs until the harness stops it (it always does, with a timeout)
        pass
    app.close(timeout=15)  # warm: active jobs finish before the process exits
    return 0


if __name__ == "__main__":
    sys.exit(main())
