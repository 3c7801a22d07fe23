"""A small shop: charge an order (retrying a flaky gateway), send its receipt, reconcile every 10 minutes."""

from taskora import Taskora, chain

app = Taskora("redis://localhost:6379/0")  # production's broker: the tests never contact it


@app.task("charge", retry={"attempts": 3, "backoff": "fixed", "delay": "30s", "jitter": False})
def charge(order, ctx):
    if order.get("flaky") and ctx.attempt < 3:
        raise ConnectionError(f"gateway timeout (attempt {ctx.attempt})")
    ctx.log.info("charged", order=order["id"])
    return {"order": order["id"], "charged": order["amount"]}


@app.task("send-receipt")
def send_receipt(charged):
    return f"receipt for order {charged['order']}"


@app.task("place-order")
def place_order(order):
    """Dispatches another task of the app from inside a handler (the module-level task object)."""
    return send_receipt.dispatch({"order": order["id"]}).id


@app.task("reconcile", schedule={"every": "10m"})
def reconcile(data):
    return "books balanced"


def checkout(order):
    """Charge, then send the receipt of what was charged: a two-step workflow."""
    return chain(charge.s(order), send_receipt.s()).dispatch()
