"""Reads and writes of the bank lookup backfill (services.bank.backfill): the lookup items a tenant's
counterparties and payments stored before reconciliation lack, found by keys and indexes only, and
put only where absent. The records are passed through the service untouched (it only counts them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pynamodb.exceptions import PutError

from cashline.dal.access_records import TENANT_SK, TenantRecord
from cashline.dal.bank_records import CounterpartyIbanRecord, counterparty_iban_pk
from cashline.dal.party_records import CounterpartyRecord
from cashline.dal.party_repository import to_counterparty
from cashline.dal.payment_records import PaymentRecord
from cashline.dal.payment_repository import amount_lookup_record, to_payment
from cashline.dal.table import CashlineItem

PAGE_SIZE = 100  # one BatchGet (at most 100 keys) per page read


def all_tenant_ids() -> Iterator[str]:
    """Every tenant's id. A Scan (tenants have no list index): for the operator command only, never
    a request path."""
    for item in TenantRecord.scan(filter_condition=TenantRecord.sk == TENANT_SK):
        if isinstance(item, TenantRecord):
            yield str(item.tenant_id)


def counterparty_iban_pages(tenant_id: str) -> Iterator[list[CashlineItem]]:
    """The IBAN lookup of each of the tenant's counterparties with an IBAN, a page at a time: a
    Query of the counterparty list partition (gsi1 `T#<tenant>#CP`)."""
    start = None
    while True:
        page = CounterpartyRecord.gsi1.query(
            f"T#{tenant_id}#CP", limit=PAGE_SIZE, page_size=PAGE_SIZE, last_evaluated_key=start
        )
        lookups: list[CashlineItem] = []
        for item in page:
            if isinstance(item, CounterpartyRecord) and item.iban:
                cp = to_counterparty(item)
                lookups.append(
                    CounterpartyIbanRecord(
                        pk=counterparty_iban_pk(tenant_id, cp.iban or ""),
                        sk=cp.counterparty_id,
                        counterparty_id=cp.counterparty_id,
                        source="profile",
                        created_at=cp.updated_at,
                        updated_at=cp.updated_at,
                    )
                )
        yield lookups
        start = page.last_evaluated_key
        if start is None:
            return


def payment_amount_pages(tenant_id: str) -> Iterator[list[CashlineItem]]:
    """The amount lookup of each of the tenant's payouts, refunds, chargebacks and fees, a page at a
    time: a Query of the payment list partition (gsi1 `T#<tenant>#PAY`), built by the repository's
    own `amount_lookup_record` (the item new payments get)."""
    start = None
    while True:
        page = PaymentRecord.gsi1.query(
            f"T#{tenant_id}#PAY", limit=PAGE_SIZE, page_size=PAGE_SIZE, last_evaluated_key=start
        )
        lookups: list[CashlineItem] = []
        for item in page:
            if isinstance(item, PaymentRecord):
                lookup = amount_lookup_record(to_payment(item))
                if lookup is not None:
                    lookups.append(lookup)
        yield lookups
        start = page.last_evaluated_key
        if start is None:
            return


def absent(lookups: Sequence[CashlineItem]) -> list[CashlineItem]:
    """Those of `lookups` not stored yet: one consistent BatchGet per 100 keys."""
    if not lookups:
        return []
    keys = [(lookup.pk, lookup.sk) for lookup in lookups]
    found = {(item.pk, item.sk) for item in CashlineItem.batch_get(keys, consistent_read=True)}
    return [lookup for lookup in lookups if (lookup.pk, lookup.sk) not in found]


def put_if_absent(lookup: CashlineItem) -> bool:
    """Put the lookup unless one is there (attribute_not_exists: an existing item is left as it is,
    e.g. one its writer put meanwhile). True if this call wrote it."""
    try:
        lookup.save(condition=CashlineItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
