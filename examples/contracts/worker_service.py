"""The worker service: implements the contracts. Run with ``taskora worker -A worker_service``.

The heavy dependencies of real handlers (PDF rendering, mail clients) would live only here.
"""

from __future__ import annotations

import os

from billing_contracts import Delivery, Invoice, RenderedInvoice, deliver_invoice, purge_drafts, render_invoice

from taskora import Taskora

app = Taskora(os.environ.get("REDIS_URL", "redis://localhost:6379/0"), name="billing-worker")


@app.implement(render_invoice, concurrency=2)
def render(invoice: Invoice) -> RenderedInvoice:
    total = sum(line.qty * line.unit_cents for line in invoice.lines)
    rows = "\n".join(f"{line.sku} x{line.qty}" for line in invoice.lines)
    return RenderedInvoice(order_id=invoice.order_id, total_cents=total, document=f"INVOICE {invoice.order_id}\n{rows}")


@app.implement(deliver_invoice)
def deliver(rendered: RenderedInvoice) -> Delivery:
    return Delivery(order_id=rendered.order_id, message=f"sent {rendered.total_cents} cents")


@app.implement(purge_drafts)
def purge(data: dict) -> int:
    return len(data.get("ids", []))
