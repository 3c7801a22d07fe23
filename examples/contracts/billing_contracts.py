"""The only module the producer and the worker share: task names, schemas and defaults, no handlers.

Both services import it; neither imports the other.
"""

from __future__ import annotations

import pydantic

from taskora import define_task, static_contract


class Line(pydantic.BaseModel):
    sku: str
    qty: int = pydantic.Field(gt=0)
    unit_cents: int = pydantic.Field(ge=0)


class Invoice(pydantic.BaseModel):
    order_id: str
    lines: list[Line] = pydantic.Field(min_length=1)


class RenderedInvoice(pydantic.BaseModel):
    order_id: str
    total_cents: int
    document: str


class Delivery(pydantic.BaseModel):
    order_id: str
    message: str


render_invoice = define_task("billing.render", input=Invoice, output=RenderedInvoice,
                             retry={"attempts": 3, "backoff": "exponential"}, timeout="30s")
deliver_invoice = define_task("billing.deliver", input=RenderedInvoice, output=Delivery)
#: A task whose payload is typed only by convention (no runtime schema on the producer's side).
purge_drafts = static_contract("billing.purge_drafts")
