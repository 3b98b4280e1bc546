"""Payments in DynamoDB: the payment item (a `cashline.domain.payments.Payment` in, the same out), its
uniqueness claims (the source's event and reference), and its part of the one transaction that applies
or reverses it together with the invoices it touches (`stage`; the service composes the rest)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter
from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from cashline.dal.alert_repository import Alert
from cashline.dal.invoice_records import InvoiceRecord
from cashline.dal.invoice_repository import InvoiceChange, TotalsKey, to_invoice
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.party_records import UniqueRecord
from cashline.dal.party_repository import claimed_by, unique_record
from cashline.dal.payment_records import (
    PAYMENT_SK,
    InvoiceNumberRecord,
    PaymentAmountRecord,
    PaymentRecord,
    invoice_number_pk,
    payment_amount_pk,
    payment_pk,
)
from cashline.dal.report_totals import PaymentKey, apply_payments, merge
from cashline.dal.statement_records import activity_marker
from cashline.dal.transactions import Stage
from cashline.domain.invoices import DocumentKind, Invoice, InvoiceStatus
from cashline.domain.payments import Payment, PaymentKind, PaymentSource
from cashline.errors import NotFoundError

EVENT_SCOPE = "PEVT"  # one source event, one effect
REFERENCE_SCOPE = "PAYREF"  # one money movement at a source, one payment
# Kinds a bank line is looked up as by exact amount (dal.bank_candidates.payments_near).
AMOUNT_LOOKUP_KINDS = frozenset(
    {PaymentKind.PAYOUT, PaymentKind.REFUND, PaymentKind.CHARGEBACK, PaymentKind.FEE}
)


def event_claim_value(source: str, event_id: str) -> str:
    return f"{source}#{event_id}"


def reference_claim_value(source: str, reference: str) -> str:
    return f"{source}#{reference}"


@lru_cache(maxsize=1)
def _codec() -> TypeAdapter[Payment]:
    """Reads and writes a payment's nested parts (payer, targets, allocations, history) as the JSON
    they have always been stored as. Built on first use, not at import (cold start)."""
    return TypeAdapter(Payment)


def _index_keys(p: Payment) -> dict[str, str | None]:
    t, by_day = p.tenant_id, f"{p.value_date.isoformat()}#{p.id}"
    holds_credit = p.holds_credit
    cp = p.counterparty_id
    return {
        "gsi1pk": f"T#{t}#PAY",
        "gsi1sk": by_day,
        "gsi2pk": f"T#{t}#PAY#ST#{p.status.value}",
        "gsi2sk": by_day,
        "gsi3pk": f"T#{t}#CP#{cp}#PAY" if cp else None,
        "gsi3sk": by_day if cp else None,
        "gsi4pk": f"T#{t}#PAY#UNALLOC" if holds_credit else None,
        "gsi4sk": by_day if holds_credit else None,
        "gsi5pk": f"T#{t}#PAY#SRC#{p.source.value}",
        "gsi5sk": by_day,
        # A counterparty's credit, oldest first, in each currency: what its next invoice can use.
        "gsi6pk": f"T#{t}#CP#{cp}#CREDIT#{p.currency}" if cp and holds_credit else None,
        "gsi6sk": by_day if cp and holds_credit else None,
    }


def payment_record(p: Payment) -> PaymentRecord:
    data = _codec().dump_python(p, mode="json")
    return PaymentRecord(
        pk=payment_pk(p.tenant_id, p.id),
        sk=PAYMENT_SK,
        tenant_id=p.tenant_id,
        payment_id=p.id,
        direction=p.direction.value,
        source=p.source.value,
        source_event_id=p.source_event_id,
        source_reference=p.source_reference,
        connection_id=p.connection_id,
        payment_kind=p.kind.value,
        status=p.status.value,
        amount=p.amount,
        currency=p.currency,
        value_date=p.value_date.isoformat(),
        method=p.method.value if p.method else None,
        payer=data["payer"],
        remittance_reference=p.remittance_reference,
        targets={
            **data["targets"],
            "invoice_amount": p.invoice_amount,
            "invoice_currency": p.invoice_currency,
            "fx_rate": p.fx_rate,
        },
        counterparty_id=p.counterparty_id,
        allocations=data["allocations"],
        allocated_amount=p.allocated_amount,
        unallocated_amount=p.unallocated_amount,
        reversed_amount=p.reversed_amount,
        related_payment_id=p.related_payment_id,
        settled_gross=p.settled_gross,
        fees=p.fees,
        settled_references=list(p.settled_references) or None,
        raw_payload_key=p.raw_payload_key,
        failure_reason=p.failure_reason,
        hold_reason=p.hold_reason,
        history=data["history"],
        created_at=p.created_at,
        updated_at=p.updated_at,
        **_index_keys(p),  # type: ignore[arg-type]
    )


def amount_lookup_record(p: Payment) -> PaymentAmountRecord | None:
    """The lookup item a payout, refund, chargeback or fee is found by from a bank line (its kind,
    currency and exact amount; sorted by value date); None for other kinds."""
    if p.kind not in AMOUNT_LOOKUP_KINDS:
        return None
    return PaymentAmountRecord(
        pk=payment_amount_pk(p.tenant_id, p.kind.value, p.currency, p.amount),
        sk=f"{p.value_date.isoformat()}#{p.id}",
        payment_id=p.id,
        created_at=p.created_at,
        updated_at=p.created_at,
    )


def to_payment(r: PaymentRecord) -> Payment:
    targets = dict(r.targets or {})
    fx = {k: targets.pop(k, None) for k in ("invoice_amount", "invoice_currency", "fx_rate")}
    return _codec().validate_python(
        {
            "id": r.payment_id,
            "tenant_id": r.tenant_id,
            "direction": r.direction,
            "source": r.source,
            "source_event_id": r.source_event_id,
            "source_reference": r.source_reference,
            "connection_id": r.connection_id,
            "kind": r.payment_kind,
            "status": r.status,
            "amount": int(r.amount),
            "currency": r.currency,
            **fx,
            "value_date": r.value_date,
            "method": r.method,
            "payer": r.payer or {},
            "remittance_reference": r.remittance_reference,
            "targets": targets,
            "counterparty_id": r.counterparty_id,
            "allocations": r.allocations or [],
            "allocated_amount": int(r.allocated_amount),
            "unallocated_amount": int(r.unallocated_amount),
            "reversed_amount": int(r.reversed_amount),
            "related_payment_id": r.related_payment_id,
            "settled_gross": None if r.settled_gross is None else int(r.settled_gross),
            "fees": None if r.fees is None else int(r.fees),
            "settled_references": r.settled_references or [],
            "raw_payload_key": r.raw_payload_key,
            "failure_reason": r.failure_reason,
            "hold_reason": r.hold_reason,
            "history": r.history or [],
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            "version": int(r.version or 0),
        }
    )


@dataclass
class PaymentWrites:
    """Everything one payment event changes, written in one transaction or not at all: the payments
    and claims are this repository's part (`PaymentRepository.stage`), the invoice changes and the
    credits the invoice repository's, the alerts the alert outbox's."""

    tenant_id: str
    now: datetime
    payments: list[tuple[Payment | None, Payment]] = field(default_factory=list)  # (before, after)
    claims: list[tuple[str, str, str]] = field(default_factory=list)  # (scope, value, payment id)
    invoice_changes: list[InvoiceChange] = field(default_factory=list)
    credits: dict[TotalsKey, int] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    # Other entities' parts of the same change (a bank line marked matched with the payment it made).
    also: list[Stage] = field(default_factory=list)

    def add_credit(self, key: TotalsKey, amount: int) -> None:
        self.credits[key] = self.credits.get(key, 0) + amount


def _received_deltas(writes: PaymentWrites) -> dict[PaymentKey, tuple[int, int]]:
    deltas: dict[PaymentKey, tuple[int, int]] = {}
    for before, after in writes.payments:
        for payment, sign in ((before, -1), (after, 1)):
            if payment is None:
                continue
            amount, count = payment.received()
            if not (amount or count):
                continue
            key = (
                writes.tenant_id,
                payment.direction.value,
                payment.value_date.strftime("%Y-%m"),
                payment.currency,
                payment.method.value if payment.method else "other",
            )
            merge(deltas, {key: (sign * amount, sign * count)})
    return deltas


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    status: str | None = None
    kind: str | None = None
    source: str | None = None
    method: str | None = None
    currency: str | None = None
    counterparty_id: str | None = None
    unallocated: bool | None = None
    value_date_from: date | None = None
    value_date_to: date | None = None


class PaymentRepository:
    def get(self, tenant_id: str, payment_id: str) -> Payment:
        try:
            record = PaymentRecord.get(payment_pk(tenant_id, payment_id), PAYMENT_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFoundError("payment not found", field="payment_id") from exc
        return to_payment(record)

    def by_reference(self, tenant_id: str, source: PaymentSource, reference: str) -> Payment | None:
        holder = claimed_by(tenant_id, REFERENCE_SCOPE, reference_claim_value(source.value, reference))
        return self.get(tenant_id, holder) if holder else None

    def event_seen(self, tenant_id: str, source: PaymentSource, event_id: str) -> bool:
        return claimed_by(tenant_id, EVENT_SCOPE, event_claim_value(source.value, event_id)) is not None

    @staticmethod
    def stage(write: TransactWrite, writes: PaymentWrites) -> None:
        """The payments' part of a unit of work: each payment on the version read (a new one must not
        exist; a new payout, refund, chargeback or fee with its amount lookup item), the claims (a
        claimed event or reference fails the transaction: it was processed), the "received" totals,
        and the activity marker of a counterparty's new payment."""
        for before, after in writes.payments:
            record = payment_record(after)
            if before is None:
                write.save(record, condition=PaymentRecord.pk.does_not_exist())
                lookup = amount_lookup_record(after)
                if lookup is not None:
                    write.save(lookup)
            else:
                record.version = before.version
                write.save(record)
        for scope, value, target in writes.claims:
            write.save(
                unique_record(writes.tenant_id, scope, value, target, writes.now),
                condition=UniqueRecord.pk.does_not_exist(),
            )
        apply_payments(write, _received_deltas(writes), writes.now)
        for counterparty_id in {after.counterparty_id for before, after in writes.payments if before is None}:
            if counterparty_id:
                write.save(activity_marker(writes.tenant_id, counterparty_id, writes.now.date(), writes.now))

    def invoices_by_number(self, tenant_id: str, direction: str, normalized: str) -> list[tuple[str, str]]:
        """(invoice id, counterparty id) of the invoices with this number (normalized): one Query."""
        return [
            (item.invoice_id, item.counterparty_id)
            for item in InvoiceNumberRecord.query(
                invoice_number_pk(tenant_id, direction, normalized), limit=5
            )
            if isinstance(item, InvoiceNumberRecord)
        ]

    @staticmethod
    def open_invoices(
        tenant_id: str, counterparty_id: str, currency: str, statuses: Iterable[InvoiceStatus], *, limit: int
    ) -> list[Invoice]:
        """A counterparty's receivable invoices in `statuses` and one currency that a payment may pay
        (not financed: those are paid by their plan): one Query on its invoice index, filtered."""
        r = InvoiceRecord
        results = r.gsi3.query(
            f"T#{tenant_id}#CP#{counterparty_id}#INV#receivable",
            filter_condition=r.status.is_in(*[s.value for s in statuses])
            & (r.currency == currency)
            & (r.document_kind == DocumentKind.INVOICE.value),
        )
        found = [to_invoice(item) for item in results if isinstance(item, InvoiceRecord)]
        return [i for i in found if not i.financing_plan_id][:limit]

    def credit_payments(self, tenant_id: str, counterparty_id: str, currency: str) -> list[Payment]:
        """The counterparty's payments with money not yet applied, oldest first: one Query."""
        results = PaymentRecord.gsi6.query(f"T#{tenant_id}#CP#{counterparty_id}#CREDIT#{currency}", limit=20)
        return [to_payment(item) for item in results if isinstance(item, PaymentRecord)]

    def list(
        self, tenant_id: str, flt: PaymentFilter, *, limit: int, starting_after: str | None
    ) -> Page[Payment]:
        """One Query on the narrowest index the filter allows; the rest as filter expressions."""
        index, attr, partition = self._index_for(tenant_id, flt)
        start = decode_cursor(starting_after, partition_attr=attr, partition_value=partition)
        sort_attr = getattr(PaymentRecord, attr.replace("pk", "sk"))
        condition = None
        if flt.value_date_from or flt.value_date_to:
            first = flt.value_date_from.isoformat() if flt.value_date_from else "0000"
            last = (flt.value_date_to.isoformat() if flt.value_date_to else "9999") + "#~"
            condition = sort_attr.between(first, last)
        results = index.query(
            partition,
            condition,
            filter_condition=self._filters(flt, used=attr),
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
            scan_index_forward=False,
        )
        items = [to_payment(item) for item in results if isinstance(item, PaymentRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    @staticmethod
    def _index_for(tenant_id: str, flt: PaymentFilter) -> tuple[Any, str, str]:
        t = tenant_id
        if flt.unallocated:
            return PaymentRecord.gsi4, "gsi4pk", f"T#{t}#PAY#UNALLOC"
        if flt.counterparty_id:
            return PaymentRecord.gsi3, "gsi3pk", f"T#{t}#CP#{flt.counterparty_id}#PAY"
        if flt.status:
            return PaymentRecord.gsi2, "gsi2pk", f"T#{t}#PAY#ST#{flt.status}"
        if flt.source:
            return PaymentRecord.gsi5, "gsi5pk", f"T#{t}#PAY#SRC#{flt.source}"
        return PaymentRecord.gsi1, "gsi1pk", f"T#{t}#PAY"

    @staticmethod
    def _filters(flt: PaymentFilter, *, used: str) -> Any:
        r = PaymentRecord
        wanted: list[tuple[Any, str | None]] = [
            (r.status, flt.status if used != "gsi2pk" else None),
            (r.source, flt.source if used != "gsi5pk" else None),
            (r.payment_kind, flt.kind),
            (r.method, flt.method),
            (r.currency, flt.currency),
            (r.counterparty_id, flt.counterparty_id if used != "gsi3pk" else None),
        ]
        condition = None
        for attribute, value in wanted:
            if value is None:
                continue
            clause = attribute == value
            condition = clause if condition is None else condition & clause
        if flt.unallocated is False:
            clause = r.unallocated_amount == 0
            condition = clause if condition is None else condition & clause
        return condition
