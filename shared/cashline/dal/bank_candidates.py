"""Matching's view of a tenant's books (`cashline.domain.bank.reconciliation.Candidates`): each lookup
is one or two keyed reads, bounded in what they may examine, so the reads per bank line do not grow
with the number of invoices (tests/integration/test_bank_candidates.py counts them; bench/bank_costs.py
measures them at 100,000 open invoices).

| lookup | reads |
|---|---|
| invoices_by_number | Query `T#<t>#INVNUM#<direction>#<number>` (<= 5) + one BatchGet of the headers |
| invoices_owing | Query invoice gsi5 `T#<t>#INV#<d>#CUR#<cur>#AMT` on the exact amount, newest first |
| open_invoices_of | Query invoice gsi3 `T#<t>#CP#<cp>#INV#<d>`, newest due first, open ones kept (<= 50) |
| counterparty_of_iban | Query `T#<t>#CPIBAN#<iban>` (2 items at most: one counterparty or "ambiguous") |
| learned_counterparty | GetItem `T#<t>#LEARN#<key>` / `LEARN` |
| installments_due | Query financing gsi1 `T#<t>#INSDUE` due within +-5 days, filtered by amount |
| payments_near | Query `T#<t>#PAYAMT#<kind>#<cur>#<amount>` within +-5 days (<= 10) + BatchGet of them |

A Query with a filter stops after MAX_EXAMINED items (DynamoDB's ScannedCount), so a tenant with
thousands of paid invoices of one amount costs at most a few requests; what it returns are the newest,
which is where open invoices are.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from cashline.dal.bank_records import (
    LEARNED_SK,
    CounterpartyIbanRecord,
    LearnedPatternRecord,
    counterparty_iban_pk,
    learned_pk,
)
from cashline.dal.financing_records import InstallmentRecord
from cashline.dal.financing_repository import installments_by_due_partition
from cashline.dal.invoice_records import HEADER_SK, InvoiceRecord, invoice_pk
from cashline.dal.invoice_repository import amount_sort_key
from cashline.dal.payment_records import (
    PAYMENT_SK,
    PaymentAmountRecord,
    PaymentRecord,
    payment_amount_pk,
    payment_pk,
)
from cashline.dal.payment_repository import PaymentRepository
from cashline.domain.bank.reconciliation import KnownPayment, OpenInstallment, OpenInvoice
from cashline.domain.invoices import DocumentKind, InvoiceStatus
from cashline.domain.payments import PaymentStatus
from cashline.domain.plans import OPEN_INSTALLMENT

# What a payment may pay (services.payments.context.PAYABLE; the dal may not import services).
OPEN_STATUSES = (InvoiceStatus.OPEN.value, InvoiceStatus.PARTIALLY_PAID.value, InvoiceStatus.OVERDUE.value)
# Payments a bank line may be: settled, or on their way (a refund Stripe reports as pending).
KNOWN_PAYMENT_STATUSES = (PaymentStatus.SUCCEEDED.value, PaymentStatus.PENDING.value)
# Items one lookup may examine before it answers with what it found.
MAX_EXAMINED = 500
# How far from a line's date an installment's due date or a payment's value date may be.
DATE_WINDOW = timedelta(days=5)
MAX_OPEN_OF_COUNTERPARTY = 50
MAX_OWING = 10


def _bounded(
    index: Any,
    model: Any,
    partition: str,
    key_condition: Condition | None,
    filter_condition: Condition | None,
    *,
    want: int,
    newest_first: bool,
) -> list[Any]:
    """Up to `want` items of one partition, examining at most MAX_EXAMINED: one request at a time so
    the budget is checked between requests (PynamoDB's iterator would read on until `want`)."""
    found: list[Any] = []
    examined = 0
    start: dict[str, Any] | None = None
    while len(found) < want and examined < MAX_EXAMINED:
        results = index.query(
            partition,
            key_condition,
            filter_condition=filter_condition,
            page_size=MAX_EXAMINED - examined,
            last_evaluated_key=start,
            scan_index_forward=not newest_first,
        )
        page = next(results.page_iter)
        examined += int(page["ScannedCount"])
        found += [model.from_raw_data(raw) for raw in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    return found[:want]


def _open_invoice(r: InvoiceRecord) -> OpenInvoice:
    return OpenInvoice(
        invoice_id=r.invoice_id,
        number=r.number,
        counterparty_id=r.counterparty_id,
        counterparty_name=r.counterparty_name,
        direction=r.direction,
        currency=r.currency,
        amount_due=int(r.amount_due),
        outstanding=int(r.amount_due) - int(r.amount_paid or 0),
        issue_date=date.fromisoformat(r.issue_date),
        due_date=date.fromisoformat(r.due_date),
    )


def _payable(r: InvoiceRecord) -> bool:
    """An invoice a bank line may pay: open, an invoice (not a credit note), not taken over by a
    financing plan (its plan pays it), something still owed."""
    return (
        r.status in OPEN_STATUSES
        and r.document_kind == DocumentKind.INVOICE.value
        and not r.financing_plan_id
        and int(r.amount_due) - int(r.amount_paid or 0) > 0
    )


def _open_filter() -> Condition:
    r = InvoiceRecord
    condition: Condition = (
        r.status.is_in(*OPEN_STATUSES)
        & (r.document_kind == DocumentKind.INVOICE.value)
        & r.financing_plan_id.does_not_exist()
    )
    return condition


class StoredCandidates:
    """The Candidates of one tenant, read from DynamoDB (Query/GetItem/BatchGet on keys only)."""

    def __init__(self, tenant_id: str, *, payments: PaymentRepository | None = None) -> None:
        self.tenant_id = tenant_id
        self._payments = payments or PaymentRepository()

    def invoices_by_number(self, direction: str, normalized_number: str) -> list[OpenInvoice]:
        """Open invoices whose number (normalized: letters and digits, upper case) is this one."""
        found = self._payments.invoices_by_number(self.tenant_id, direction, normalized_number)
        if not found:
            return []
        keys = [(invoice_pk(self.tenant_id, invoice_id), HEADER_SK) for invoice_id, _ in found]
        headers = [r for r in InvoiceRecord.batch_get(keys) if isinstance(r, InvoiceRecord)]
        return sorted(
            (_open_invoice(r) for r in headers if _payable(r)), key=lambda i: (i.due_date, i.invoice_id)
        )

    def invoices_owing(self, direction: str, currency: str, amount: int) -> list[OpenInvoice]:
        """Open invoices of exactly `amount` not yet partly paid (a partly paid one is found through
        its payer), newest first, at most MAX_OWING."""
        r = InvoiceRecord
        prefix = amount_sort_key(amount, "")  # "<amount, zero-padded>#": every invoice of that amount
        results = _bounded(
            r.gsi5,
            r,
            f"T#{self.tenant_id}#INV#{direction}#CUR#{currency}#AMT",
            r.gsi5sk.startswith(prefix),
            _open_filter() & ((r.amount_paid == 0) | r.amount_paid.does_not_exist()),
            want=MAX_OWING,
            newest_first=True,
        )
        return [_open_invoice(i) for i in results if isinstance(i, InvoiceRecord) and _payable(i)]

    def open_invoices_of(self, counterparty_id: str, direction: str, currency: str) -> list[OpenInvoice]:
        """A counterparty's open invoices in one currency, oldest due first (at most 50). Read newest
        due first: a long-standing customer's paid history lies behind its open invoices."""
        r = InvoiceRecord
        results = _bounded(
            r.gsi3,
            r,
            f"T#{self.tenant_id}#CP#{counterparty_id}#INV#{direction}",
            None,
            _open_filter() & (r.currency == currency),
            want=MAX_OPEN_OF_COUNTERPARTY,
            newest_first=True,
        )
        found = [_open_invoice(i) for i in results if isinstance(i, InvoiceRecord) and _payable(i)]
        return sorted(found, key=lambda i: (i.due_date, i.invoice_id))

    def counterparty_of_iban(self, iban: str) -> str | None:
        """The one counterparty known for this IBAN; None when none is, or several are."""
        holders = {
            item.counterparty_id
            for item in CounterpartyIbanRecord.query(counterparty_iban_pk(self.tenant_id, iban), limit=2)
            if isinstance(item, CounterpartyIbanRecord)
        }
        return holders.pop() if len(holders) == 1 else None

    def learned_counterparty(self, remittance_key: str) -> str | None:
        try:
            record = LearnedPatternRecord.get(learned_pk(self.tenant_id, remittance_key), LEARNED_SK)
        except DoesNotExist:
            return None
        return str(record.counterparty_id)

    def installments_due(self, currency: str, amount: int, around: date) -> list[OpenInstallment]:
        """Installments not yet paid of exactly `amount`, due within DATE_WINDOW of `around`."""
        r = InstallmentRecord
        first, last = around - DATE_WINDOW, around + DATE_WINDOW
        results = _bounded(
            r.gsi1,
            r,
            installments_by_due_partition(self.tenant_id),
            r.gsi1sk.between(first.isoformat(), f"{last.isoformat()}#~"),
            (r.amount == amount)
            & (r.currency == currency)
            & r.status.is_in(*[s.value for s in OPEN_INSTALLMENT]),
            want=MAX_OWING,
            newest_first=False,
        )
        return [
            OpenInstallment(
                installment_id=i.installment_id,
                plan_id=i.plan_id,
                amount=int(i.amount),
                currency=i.currency,
                due_date=date.fromisoformat(i.due_date),
                # Cashline's debit request names the installment as its end-to-end id.
                end_to_end_id=i.installment_id,
            )
            for i in results
            if isinstance(i, InstallmentRecord)
        ]

    def payments_near(self, kind: str, currency: str, amount: int, around: date) -> list[KnownPayment]:
        """Payments of `kind` and exactly `amount` with a value date within DATE_WINDOW of `around`,
        settled or pending: one Query of the amount lookup (at most MAX_OWING) and one BatchGet of
        the payments, whatever the tenant's number of payments."""
        first, last = around - DATE_WINDOW, around + DATE_WINDOW
        lookups = PaymentAmountRecord.query(
            payment_amount_pk(self.tenant_id, kind, currency, amount),
            PaymentAmountRecord.sk.between(first.isoformat(), f"{last.isoformat()}#~"),
            limit=MAX_OWING,
        )
        keys = [
            (payment_pk(self.tenant_id, item.payment_id), PAYMENT_SK)
            for item in lookups
            if isinstance(item, PaymentAmountRecord)
        ]
        if not keys:
            return []
        found = [p for p in PaymentRecord.batch_get(keys) if isinstance(p, PaymentRecord)]
        return sorted(
            (
                KnownPayment(
                    payment_id=p.payment_id,
                    kind=p.payment_kind,
                    source=p.source,
                    amount=int(p.amount),
                    currency=p.currency,
                    value_date=date.fromisoformat(p.value_date),
                    reference=p.source_reference or "",
                    counterparty_id=p.counterparty_id,
                    # A payout's composition (services.payments.payouts): what propose_payout checks.
                    settled_gross=None if p.settled_gross is None else int(p.settled_gross),
                    fees=None if p.fees is None else int(p.fees),
                )
                for p in found
                if p.status in KNOWN_PAYMENT_STATUSES and p.payment_kind == kind and int(p.amount) == amount
            ),
            key=lambda k: (k.value_date, k.payment_id),
        )
