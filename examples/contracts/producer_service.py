"""The producer service (an API, a cron job...): dispatches the contracts and awaits typed results.

It imports ``billing_contracts`` and taskora only: never ``worker_service`` or its dependencies.
"""

from __future__ import annotations

from billing_contracts import Delivery, Invoice, RenderedInvoice, deliver_invoice, purge_drafts, render_invoice

from taskora import Taskora, chain


class Billing:
    """The producer's view of the billing worker pool."""

    def __init__(self, redis_url: str) -> None:
        self.app = Taskora(redis_url, name="billing-producer")
        self.render = self.app.register(render_invoice)
        self.deliver = self.app.register(deliver_invoice)
        self.purge = self.app.register(purge_drafts)

    def render_now(self, invoice: Invoice | dict, timeout: float = 30) -> RenderedInvoice:
        """Dispatch one render and wait: the result comes back as a RenderedInvoice."""
        return self.render.dispatch(invoice).result(timeout=timeout)

    def bill(self, invoice: Invoice | dict, timeout: float = 30) -> Delivery:
        """Render then deliver, as one workflow: each step runs wherever its contract is implemented; the
        result is the last step's output model."""
        delivery: Delivery = chain(self.render.s(invoice), self.deliver.s()).dispatch().result(timeout=timeout)
        return delivery

    def close(self) -> None:
        self.app.close()
