"""A small taskora demo on the embedded in-memory engine: no Redis needed.

    python examples/native/demo.py            # in-memory
    python examples/native/demo.py redis://localhost:6379/0
"""

from __future__ import annotations

import sys
import time

from taskora import JobFailedError, Taskora

app = Taskora(sys.argv[1] if len(sys.argv) > 1 else None)


@app.task("resize-image", concurrency=4)
def resize_image(data: dict, ctx) -> dict:
    ctx.progress(50)
    ctx.log.info("resizing", url=data["url"])
    return {"url": data["url"], "width": data["width"], "bytes": data["width"] * 100}


@app.task("flaky-webhook", retry={"attempts": 3, "backoff": "exponential", "delay": "100ms"})
def flaky_webhook(data: dict, ctx) -> str:
    if ctx.attempt < 3:
        raise ConnectionError(f"endpoint down (attempt {ctx.attempt})")
    return f"delivered to {data['url']} on attempt {ctx.attempt}"


@app.task("always-fails")
def always_fails(data: dict) -> None:
    raise ValueError("this job is meant to fail")


def main() -> None:
    app.on("task:retrying", lambda e: print(f"  retrying {e.task} {e.id[:8]}: {e.error}"))
    app.on("task:failed", lambda e: print(f"  failed {e.task} {e.id[:8]}: {e.error}"))
    app.start()
    try:
        started = time.monotonic()
        handles = resize_image.dispatch_many([{"url": f"img{i}.jpg", "width": 100 + i} for i in range(20)])
        print(f"resized {len([h.result(timeout=10) for h in handles])} images")
        print(flaky_webhook.dispatch({"url": "https://example.invalid/hook"}).result(timeout=10))
        try:
            always_fails.dispatch({}).result(timeout=10)
        except JobFailedError as exc:
            print(f"as expected: {exc}")
        print(f"done in {time.monotonic() - started:.2f}s on {app.adapter.address}")
    finally:
        app.close()


if __name__ == "__main__":
    main()
