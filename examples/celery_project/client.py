"""Place an order and send its receipt, the way the shop's web app does: `python client.py`.

Needs a worker running: `celery -A proj worker -l info` (or, once migrated, `taskora worker -A proj -l info`).
"""

import sys
import uuid

from proj.tasks import emails, orders


def main():
    order_id = "web-" + uuid.uuid4().hex[:8]
    result = orders.place_order(order_id, [{"sku": "mug", "qty": 2, "price_cents": 1250}])
    print("order", result.get(timeout=30), "confirmed")
    receipt = emails.send_receipt.apply_async(args=(order_id, "ann@example.com"), countdown=1)
    print("receipt:", receipt.get(timeout=30)["body"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
