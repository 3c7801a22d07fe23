"""What one handler hand-off to a prefork child's main thread costs (taskora/worker/main_thread.py).

``python -m bench.handoff_cost [-n 20000]``: a slot-like thread hands ``n`` empty calls to
``MainThreadRunner.call`` while this process's main thread runs them; prints wall and CPU microseconds per
call. The figure behind ``main_thread.SHORT_RUN_S`` (bench/README.md, "Profiles").
"""

from __future__ import annotations

import argparse
import threading
import time

from taskora.worker.main_thread import MainThreadRunner


def measure(calls: int) -> tuple[float, float]:
    """(wall µs, CPU µs) per hand-off of an empty call, over ``calls`` calls."""
    runner = MainThreadRunner()
    runner.install()
    wall: list[float] = []

    def slot() -> None:
        began = time.perf_counter()
        try:
            for _ in range(calls):
                runner.call(lambda: None)
        finally:
            wall.append(time.perf_counter() - began)
            runner.close()

    cpu_began = time.process_time()
    threading.Thread(target=slot, daemon=True).start()
    runner.run()
    return wall[0] / calls * 1e6, (time.process_time() - cpu_began) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--calls", type=int, default=20_000)
    wall_us, cpu_us = measure(parser.parse_args().calls)
    print(f"hand-off to the main thread: {wall_us:.1f} µs wall, {cpu_us:.1f} µs CPU per call")


if __name__ == "__main__":
    main()
