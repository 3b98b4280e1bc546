"""Invoices in DynamoDB: header, body, documents and audit trail. A change is offered as a stage of
the caller's unit of work (`stage_create`, `stage_change`, `stage_changes`), with the counterparty's
totals, the day figures and the uniqueness claims that move with it; reads return domain objects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from cashline.dal.daily_totals import DayDelta, apply_in
from cashline.dal.due import due_keys
from cashline.dal.errors import storage_errors
from cashline.dal.invoice_records import (
    BODY_SK,
    DOCUMENT_SK_PREFIX,
    EVENT_SK_PREFIX,
    HEADER_SK,
    DocumentRecord,
    InvoiceBodyRecord,
    InvoiceEventRecord,
    InvoiceRecord,
    invoice_pk,
)
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.party_records import UniqueRecord
from cashline.dal.party_repository import (
    claimed_by,
    stage_new_counterparty,
    totals_update,
    unique_record,
)
from cashline.dal.payment_records import InvoiceNumberRecord, invoice_number_pk
from cashline.dal.record_fields import loaded_fields, stored_fields
from cashline.dal.report_totals import apply_issued, issued_deltas, merge
from cashline.dal.statement_records import activity_marker
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import UnitOfWork
from cashline.domain.counterparties import Counterparty
from cashline.domain.invoices import (
    Contribution,
    Direction,
    Document,
    DocumentKind,
    Invoice,
    InvoiceBody,
    InvoiceEvent,
    InvoiceStatus,
    Prepared,
    UniqueClaim,
)
from cashline.domain.references import normalize_invoice_number
from cashline.errors import ConflictError, NotFoundError

OVERDUE_JOB = "invoice_overdue"
# Amount sort keys: offset so that negative amounts (corrections) sort before positive ones.
_AMOUNT_OFFSET = 10**18


def report_deltas(before: Invoice | None, after: Invoice) -> list[DayDelta]:
    """The invoice's day-item change: what is owed that day, and what it billed (with its segment)."""
    deltas = []
    for invoice, sign in ((before, -1), (after, 1)):
        if invoice is None:
            continue
        amount, count = invoice.due_on_its_day()
        deltas.append(
            DayDelta(
                invoice.tenant_id,
                invoice.direction.value,
                invoice.due_date,
                invoice.currency,
                "invoices",
                sign * amount,
                sign * count,
                billed=sign * invoice.contribution().billed,
                segment=invoice.segment,
            )
        )
    return deltas


def issued_change(before: Invoice | None, after: Invoice) -> dict[Any, tuple[int, int]]:
    """What the change does to the issue month's billed figure (a void takes it back)."""
    found: dict[Any, tuple[int, int]] = {}
    for invoice, sign in ((before, -1), (after, 1)):
        if invoice is None:
            continue
        billed = invoice.contribution().billed
        counted = 1 if billed else 0
        merge(
            found,
            issued_deltas(
                invoice.tenant_id,
                invoice.direction.value,
                invoice.issue_date,
                invoice.currency,
                invoice.segment,
                sign * billed,
                sign * counted,
            ),
        )
    return found


def _plus(a: Contribution, b: Contribution) -> Contribution:
    return a.minus(Contribution().minus(b))


def amount_sort_key(amount: int, invoice_id: str) -> str:
    return f"{amount + _AMOUNT_OFFSET:019d}#{invoice_id}"


def counterparty_invoices_partition(tenant_id: str, counterparty_id: str, direction: Direction) -> str:
    """A counterparty's invoices of one direction, by due date (gsi3)."""
    return f"T#{tenant_id}#CP#{counterparty_id}#INV#{direction.value}"


def index_keys(invoice: Invoice, overdue_instant: datetime | None) -> dict[str, str | None]:
    """The invoice header's place in every index (docs/data-model.md, "Invoices")."""
    t, d, i = invoice.tenant_id, invoice.direction.value, invoice.invoice_id
    by_due = f"{invoice.due_date.isoformat()}#{i}"
    keys: dict[str, str | None] = {
        "gsi1pk": f"T#{t}#INV#{d}",
        "gsi1sk": by_due,
        "gsi2pk": f"T#{t}#INV#{d}#ST#{invoice.status.value}",
        "gsi2sk": by_due,
        "gsi3pk": counterparty_invoices_partition(t, invoice.counterparty_id, invoice.direction),
        "gsi3sk": by_due,
        "gsi4pk": f"T#{t}#INV#{d}#ISS",
        "gsi4sk": f"{invoice.issue_date.isoformat()}#{i}",
        "gsi5pk": f"T#{t}#INV#{d}#CUR#{invoice.currency}#AMT",
        "gsi5sk": amount_sort_key(invoice.amount_due, i),
        "gsi6pk": f"T#{t}#SEG#{invoice.segment}#INV#{d}" if invoice.segment else None,
        "gsi6sk": by_due if invoice.segment else None,
        "due_pk": None,
        "due_sk": None,
    }
    if overdue_instant is not None:
        keys["due_pk"], keys["due_sk"] = due_keys(OVERDUE_JOB, overdue_instant, t, i)
    return keys


def header_record(invoice: Invoice, overdue_instant: datetime | None) -> InvoiceRecord:
    """The header's record: its fields under the same names (dal/record_fields.py), and its keys."""
    return InvoiceRecord(
        pk=invoice_pk(invoice.tenant_id, invoice.invoice_id),
        sk=HEADER_SK,
        **stored_fields(invoice),
        **index_keys(invoice, overdue_instant),  # type: ignore[arg-type]
    )


def to_invoice(record: InvoiceRecord) -> Invoice:
    return Invoice(**loaded_fields(Invoice, record), version=int(record.version or 0))


def event_record(tenant_id: str, event: InvoiceEvent) -> InvoiceEventRecord:
    return InvoiceEventRecord(
        pk=invoice_pk(tenant_id, event.invoice_id),
        sk=f"{EVENT_SK_PREFIX}{event.at.isoformat()}#{event.event_id}",
        event_id=event.event_id,
        invoice_id=event.invoice_id,
        actor=event.actor,
        action=event.action,
        changes=event.changes,
        note=event.note,
        created_at=event.at,
        updated_at=event.at,
    )


def _to_event(record: InvoiceEventRecord) -> InvoiceEvent:
    return InvoiceEvent(
        event_id=record.event_id,
        invoice_id=record.invoice_id,
        at=record.created_at,
        actor=record.actor,
        action=record.action,
        changes=record.changes or {},
        note=record.note,
    )


def document_record(tenant_id: str, document: Document) -> DocumentRecord:
    return DocumentRecord(
        pk=invoice_pk(tenant_id, document.invoice_id),
        sk=DOCUMENT_SK_PREFIX + document.document_id,
        **stored_fields(document),
        updated_at=document.created_at,
    )


def to_document(record: DocumentRecord) -> Document:
    return Document(**loaded_fields(Document, record), version=int(record.version or 0))


def placeholder_number(invoice_id: str) -> str:
    """The number of a draft the billing engine numbers only when it is finalised. Made of the
    invoice's own id, it is unique without a claim and never on a remittance, so it gets neither a
    claim nor a number lookup (and finalising, a scheduled function, has nothing to delete)."""
    return f"DRAFT-{invoice_id}"


def has_placeholder_number(invoice: Invoice) -> bool:
    return invoice.number == placeholder_number(invoice.invoice_id)


def number_lookup_record(invoice: Invoice) -> InvoiceNumberRecord | None:
    """Where a remittance text's invoice number finds the invoice (payments, docs/data-model.md);
    None for a number no remittance can carry (empty, or a draft's placeholder)."""
    normalized = normalize_invoice_number(invoice.number)
    if not normalized or has_placeholder_number(invoice):
        return None
    return InvoiceNumberRecord(
        pk=invoice_number_pk(invoice.tenant_id, invoice.direction.value, normalized),
        sk=invoice.invoice_id,
        invoice_id=invoice.invoice_id,
        counterparty_id=invoice.counterparty_id,
        number=invoice.number,
        created_at=invoice.created_at,
        updated_at=invoice.created_at,
    )


@dataclass(frozen=True, slots=True)
class InvoiceChange:
    before: Invoice
    after: Invoice
    event: InvoiceEvent
    overdue_instant: datetime | None


TotalsKey = tuple[str, str, str]  # counterparty id, direction, currency


def _following(record: InvoiceRecord, counterparty: Counterparty) -> UnitOfWork:
    """The writes that give one invoice its counterparty's new name and segment, on the version
    read; the segment's day and month figures follow the invoice to its new segment."""
    before = to_invoice(record)
    invoice = replace(before, counterparty_name=counterparty.name, segment=counterparty.segment)
    keys = index_keys(invoice, None)
    r = InvoiceRecord
    actions: list[Any] = [r.counterparty_name.set(counterparty.name)]
    actions.append(r.segment.set(counterparty.segment) if counterparty.segment else r.segment.remove())
    if keys["gsi6pk"]:
        actions += [r.gsi6pk.set(keys["gsi6pk"]), r.gsi6sk.set(str(keys["gsi6sk"]))]
    else:
        actions += [r.gsi6pk.remove(), r.gsi6sk.remove()]
    work = UnitOfWork("invoice changed meanwhile")
    work.add(lambda write: write.update(record, actions=actions))
    if before.segment != invoice.segment:
        moved = replace(invoice, updated_at=counterparty.updated_at)
        work.add(lambda write: _stage_figures(write, before, moved))
    return work


def _stage_figures(write: Any, before: Invoice, after: Invoice) -> None:
    apply_in(write, report_deltas(before, after), after.updated_at)
    apply_issued(write, issued_change(before, after), after.updated_at)


class InvoiceRepository:
    def stage_create(
        self, write: Any, prepared: Prepared, event: InvoiceEvent, documents: Iterable[Document] = ()
    ) -> None:
        """A new invoice's writes, for a unit of work: header, body, claims, audit event, counterparty
        totals and day figures (and a new counterparty with its claims). A failed claim fails the
        whole unit of work; `which_claim` then says which."""
        invoice = prepared.invoice
        t = invoice.tenant_id
        header = header_record(invoice, prepared.overdue_instant)
        write.save(header, condition=InvoiceRecord.pk.does_not_exist())
        body = prepared.body
        write.save(
            InvoiceBodyRecord(
                pk=header.pk,
                sk=BODY_SK,
                lines=body.lines,
                taxes=body.taxes,
                details=body.details,
                created_at=invoice.created_at,
                updated_at=invoice.created_at,
            )
        )
        for claim in prepared.claims:
            write.save(
                unique_record(t, claim.scope, claim.value, invoice.invoice_id, invoice.created_at),
                condition=UniqueRecord.pk.does_not_exist(),
            )
        if prepared.new_counterparty is not None:
            stage_new_counterparty(write, prepared.new_counterparty)
        for document in documents:
            write.save(document_record(t, document))
        if lookup := number_lookup_record(invoice):
            write.save(lookup)
        if invoice.direction is Direction.RECEIVABLE:
            write.save(
                activity_marker(t, invoice.counterparty_id, invoice.created_at.date(), invoice.created_at)
            )
        write.save(event_record(t, event))
        self._add_totals(write, invoice, invoice.contribution())
        self._add_days(write, None, invoice)

    @staticmethod
    def _add_days(
        write: Any, before: Invoice | None, after: Invoice, extra: list[DayDelta] | None = None
    ) -> None:
        """Move the invoice's share of "what falls due that day" (docs/data-model.md, daily totals) and
        of what was invoiced in its issue month."""
        deltas = list(extra or []) + report_deltas(before, after)
        apply_in(write, deltas, after.updated_at)
        issued: dict[Any, tuple[int, int]] = {}
        merge(issued, issued_change(before, after))
        apply_issued(write, issued, after.updated_at)

    @staticmethod
    def _add_totals(write: Any, invoice: Invoice, delta: Contribution) -> None:
        if delta.is_zero():
            return
        record, actions = totals_update(
            invoice.tenant_id,
            invoice.counterparty_id,
            invoice.direction.value,
            invoice.currency,
            delta,
            invoice.updated_at,
        )
        write.update(record, actions=actions)

    @staticmethod
    def which_claim(tenant_id: str, claims: list[UniqueClaim]) -> ConflictError:
        """The conflict a failed creation reports: the claim someone else holds, with its holder."""
        for claim in claims:
            holder = claimed_by(tenant_id, claim.scope, claim.value)
            if holder is not None:
                return ConflictError(
                    f"an invoice with this {claim.field} exists (id {holder})",
                    field=claim.field,
                    details={"existing_id": holder},
                )
        return ConflictError("invoice conflicts with one created at the same time; retry")

    def get(self, tenant_id: str, invoice_id: str) -> tuple[Invoice, InvoiceBody | None, list[Document]]:
        """Header, body and documents in one Query bounded to their keys, `INV` .. `INV#EVT#`: the
        audit trail sorts after them, and other kinds in the invoice's partition (collection runs,
        work items, charge attempts) stay out of it even where their records are not imported."""
        header: Invoice | None = None
        body: InvoiceBody | None = None
        documents: list[Document] = []
        # Queried through the base record: a subclass query would filter out the other kinds.
        for item in CashlineItem.query(
            invoice_pk(tenant_id, invoice_id),
            CashlineItem.sk.between(HEADER_SK, EVENT_SK_PREFIX),
            consistent_read=True,
        ):
            if isinstance(item, InvoiceRecord):
                header = to_invoice(item)
            elif isinstance(item, InvoiceBodyRecord):
                body = InvoiceBody(lines=item.lines, taxes=item.taxes, details=item.details)
            elif isinstance(item, DocumentRecord):
                documents.append(to_document(item))
        if header is None:
            raise NotFoundError("invoice not found", field="invoice_id")
        return header, body, documents

    def get_header(self, tenant_id: str, invoice_id: str) -> Invoice:
        try:
            record = InvoiceRecord.get(invoice_pk(tenant_id, invoice_id), HEADER_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFoundError("invoice not found", field="invoice_id") from exc
        return to_invoice(record)

    @staticmethod
    def header_of(item: object) -> Invoice | None:
        """The invoice a swept due item is, or None for an item of another kind."""
        return to_invoice(item) if isinstance(item, InvoiceRecord) else None

    def of_counterparty(
        self,
        tenant_id: str,
        counterparty_id: str,
        direction: Direction,
        *,
        statuses: Iterable[InvoiceStatus] = (),
        currency: str | None = None,
        kind: DocumentKind | None = None,
    ) -> list[Invoice]:
        """A counterparty's invoices of one direction, by due date: one Query on its invoice index,
        narrowed by status, currency and kind when given."""
        r = InvoiceRecord
        conditions: list[Condition] = [r.status.is_in(*[s.value for s in statuses])] if statuses else []
        if currency is not None:
            conditions.append(r.currency == currency)
        if kind is not None:
            conditions.append(r.document_kind == kind.value)
        combined = None
        for condition in conditions:
            combined = condition if combined is None else combined & condition
        partition = counterparty_invoices_partition(tenant_id, counterparty_id, direction)
        return [
            to_invoice(item)
            for item in r.gsi3.query(partition, filter_condition=combined)
            if isinstance(item, InvoiceRecord)
        ]

    def stage_changes(
        self,
        write: Any,
        changes: Sequence[InvoiceChange],
        *,
        credits: Mapping[TotalsKey, int],
        tenant_id: str,
        now: datetime,
    ) -> None:
        """Several invoices' changes in a transaction the caller owns (a payment applied to several
        invoices): each header on the version read, with its event; the counterparty totals and the
        day totals merged, because a transaction may touch an item only once. `credits` move the
        counterparties' credit balances in the same totals items."""
        totals: dict[TotalsKey, Contribution] = defaultdict(Contribution)
        days: list[DayDelta] = []
        issued: dict[Any, tuple[int, int]] = {}
        for change in changes:
            record = header_record(change.after, change.overdue_instant)
            record.version = change.before.version
            write.save(record)
            write.save(event_record(change.after.tenant_id, change.event))
            key = (change.after.counterparty_id, change.after.direction.value, change.after.currency)
            delta = change.after.contribution().minus(change.before.contribution())
            totals[key] = _plus(totals[key], delta)
            days += report_deltas(change.before, change.after)
            merge(issued, issued_change(change.before, change.after))
        for key in set(totals) | set(credits):
            delta, credit = totals.get(key, Contribution()), credits.get(key, 0)
            if delta.is_zero() and not credit:
                continue
            counterparty_id, direction, currency = key
            totals_item, actions = totals_update(
                tenant_id, counterparty_id, direction, currency, delta, now, credit=credit
            )
            write.update(totals_item, actions=actions)
        apply_in(write, days, now)
        apply_issued(write, {k: v for k, v in issued.items() if any(v)}, now)

    def stage_change(
        self,
        write: Any,
        before: Invoice,
        after: Invoice,
        event: InvoiceEvent,
        *,
        overdue_instant: datetime | None,
        extra_days: list[DayDelta] | None = None,
    ) -> None:
        """Write `after` if the invoice is still at `before.version`, with its event, totals delta and
        day figures, in the caller's unit of work (the overdue check adds an alert and a campaign
        entry, financing its plan). `extra_days` are merged with the invoice's own: a transaction may
        touch a day item only once."""
        record = header_record(after, overdue_instant)
        record.version = before.version
        write.save(record)
        write.save(event_record(after.tenant_id, event))
        self._add_totals(write, after, after.contribution().minus(before.contribution()))
        self._add_days(write, before, after, extra_days or [])

    def follow_counterparty(self, counterparty: Counterparty) -> int:
        """Copy a counterparty's new name and segment onto its invoices (lists and the segment index
        show them); returns how many invoices changed. Each is its own conditional write, retried
        once when the invoice changed in between."""
        changed = 0
        for direction in Direction:
            partition = counterparty_invoices_partition(
                counterparty.tenant_id, counterparty.counterparty_id, direction
            )
            for item in InvoiceRecord.gsi3.query(partition):
                if isinstance(item, InvoiceRecord) and self._follow(item, counterparty):
                    changed += 1
        return changed

    def _follow(self, record: InvoiceRecord, counterparty: Counterparty) -> bool:
        for _ in range(2):
            if record.counterparty_name == counterparty.name and record.segment == counterparty.segment:
                return False
            try:
                _following(record, counterparty).commit()
                return True
            except ConflictError:
                record = InvoiceRecord.get(record.pk, record.sk, consistent_read=True)
        return False

    def events(
        self, tenant_id: str, invoice_id: str, *, limit: int, starting_after: str | None
    ) -> Page[InvoiceEvent]:
        partition = invoice_pk(tenant_id, invoice_id)
        start = decode_cursor(starting_after, partition_attr="pk", partition_value=partition)
        results = InvoiceEventRecord.query(
            partition,
            InvoiceEventRecord.sk.startswith(EVENT_SK_PREFIX),
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
            consistent_read=True,
        )
        items = [_to_event(item) for item in results if isinstance(item, InvoiceEventRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def add_document(self, tenant_id: str, document: Document) -> None:
        with storage_errors("document exists"):
            document_record(tenant_id, document).save(condition=DocumentRecord.pk.does_not_exist())

    def get_document(self, tenant_id: str, invoice_id: str, document_id: str) -> Document:
        try:
            record = DocumentRecord.get(
                invoice_pk(tenant_id, invoice_id), DOCUMENT_SK_PREFIX + document_id, consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("document not found", field="document_id") from exc
        return to_document(record)

    def settle_document(self, tenant_id: str, document: Document, event: InvoiceEvent) -> Document:
        """Record the checked upload (available or quarantined) once, with its audit event."""
        record = document_record(tenant_id, document)
        record.version = document.version
        (
            UnitOfWork("document was already checked")
            .add(lambda write: write.save(record, condition=DocumentRecord.status == "pending"))
            .add(lambda write: write.save(event_record(tenant_id, event)))
            .commit()
        )
        return to_document(record)
