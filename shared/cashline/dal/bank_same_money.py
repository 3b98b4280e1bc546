"""The lines of one account carrying the same money: same direction, currency and amount, booked in a
date range. What the duplicate check ("the same money twice", services.bank.matching) reads.

One Query on gsi6 `T#<t>#BA#<ba>#BTXAMT#<direction>#<currency>#<amount>` / `<booking date>#<btx>`
(dal.bank_codec.status_index_keys writes it on every line): the key itself selects the amount, so
the read returns only lines of exactly that amount and its cost does not grow with the account's
other lines. Bounded by `limit`.
"""

from __future__ import annotations

from datetime import date

from cashline.dal.bank_codec import same_money_pk, to_transaction
from cashline.dal.bank_records import BankTransactionRecord
from cashline.domain.bank.reconciliation import BankTransaction

# More lines than this of one amount on one account in the window is a standing order, not a
# duplicate to look at: the newest are enough.
SAME_MONEY_LIMIT = 20


def same_money_lines(
    tenant_id: str,
    bank_account_id: str,
    *,
    direction: str,
    currency: str,
    amount: int,
    first: date,
    last: date,
    limit: int = SAME_MONEY_LIMIT,
) -> list[BankTransaction]:
    """The account's lines of exactly this direction, currency and amount booked `first`..`last`
    (both inclusive), newest first, at most `limit`."""
    partition = same_money_pk(tenant_id, bank_account_id, direction, currency, amount)
    results = BankTransactionRecord.gsi6.query(
        partition,
        BankTransactionRecord.gsi6sk.between(first.isoformat(), f"{last.isoformat()}#~"),
        limit=limit,
        page_size=limit,
        scan_index_forward=False,
    )
    return [to_transaction(r) for r in results if isinstance(r, BankTransactionRecord)]
