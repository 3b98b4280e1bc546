"""What each licensed item was charged once the invoice's discounts are shared out over the items
(domain/billing/invoice_plan.py stores it as the subscription's ``period_charged``, the cap on what a
later proration or cancellation credits).

Each (tax category, behaviour) group's discount is allocated over that group's licensed and metered
lines in proportion to their amounts by largest remainder: exact (the shares sum to the discount),
integers only. Worked example: A 30.00 and B 10.00, 25 % off = 10.00 -> A 7.50, B 2.50 -> charged A
22.50, B 7.50; a 100 % discount charges every item 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cashline.domain.billing.invoice_plan import PlannedLine


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """``amount`` (>= 0) split in proportion to ``weights`` (>= 0) by largest remainder: each share is
    floor(amount x w / W), and the amount left over goes one unit at a time to the largest remainders
    (ties: the earlier weight), so the shares sum to ``amount`` exactly. 1000 over (3000, 1000, 0)
    -> (750, 250, 0); 100 over (1, 1, 1) -> (34, 33, 33). All zero when the weights are."""
    total = sum(weights)
    if total <= 0 or amount <= 0:
        return [0] * len(weights)
    shares = [amount * weight // total for weight in weights]
    remainders = [amount * weight % total for weight in weights]
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for index in order[: amount - sum(shares)]:
        shares[index] += 1
    return shares


def net_charged(base: Sequence[PlannedLine], discounts: Sequence[PlannedLine]) -> dict[str, int]:
    """What each licensed item is charged once its share of the discounts is taken off (module
    docstring): per (category, behaviour) group, the group's discount allocated over its base lines."""
    taken: dict[int, int] = {}
    for key in dict.fromkeys((line.tax_category, line.tax_behavior) for line in discounts):
        group = [i for i, line in enumerate(base) if (line.tax_category, line.tax_behavior) == key]
        discount = -sum(line.amount for line in discounts if (line.tax_category, line.tax_behavior) == key)
        for index, share in zip(
            group, allocate(discount, [max(base[i].amount, 0) for i in group]), strict=True
        ):
            taken[index] = taken.get(index, 0) + share
    charged: dict[str, int] = {}
    for index, line in enumerate(base):
        if line.kind == "licensed" and line.item_id is not None:
            charged[line.item_id] = charged.get(line.item_id, 0) + line.amount - taken.get(index, 0)
    return charged
