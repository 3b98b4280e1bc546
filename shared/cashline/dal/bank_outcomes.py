"""What reconciliation keeps besides the lines: the per-day totals of each account (ADD only), the
discrepancies flagged, the tenant's settings, and what a person taught matching (an IBAN, a
remittance pattern). Part of `BankRepository` (dal.bank_repository)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from cashline.dal.bank_codec import (
    discrepancy_json,
    discrepancy_of,
    get_or_not_found,
    set_or_remove,
)
from cashline.dal.bank_records import (
    DISCREPANCY_OF_PAYMENT_SK,
    DISCREPANCY_SK,
    LEARNED_SK,
    SETTINGS_SK,
    TOTALS_COUNTERS,
    CounterpartyIbanRecord,
    DiscrepancyOfPaymentRecord,
    DiscrepancyRecord,
    LearnedPatternRecord,
    ReconciliationSettingsRecord,
    ReconciliationTotalsRecord,
    counterparty_iban_pk,
    discrepancy_of_payment_pk,
    discrepancy_pk,
    learned_pk,
    settings_pk,
    totals_pk,
)
from cashline.dal.errors import storage_errors
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.reconciliation import (
    DEFAULT_AUTO_MATCH_THRESHOLD,
    Discrepancy,
    DiscrepancyKind,
)
from cashline.errors import NotFoundError

DEFAULT_NOT_IN_BANK_DAYS = 5
OPEN = "open"
RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class DayTotals:
    """One account's reconciliation counters for one booking day and currency (names as in
    dal.bank_records.TOTALS_COUNTERS; a counter never touched is absent, i.e. 0)."""

    bank_account_id: str
    day: date
    currency: str
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReconciliationSettings:
    auto_match_threshold: int = DEFAULT_AUTO_MATCH_THRESHOLD
    not_in_bank_days: int = DEFAULT_NOT_IN_BANK_DAYS
    version: int = 0  # 0: never saved (the defaults)


@dataclass(frozen=True, slots=True)
class StoredDiscrepancy:
    discrepancy_id: str  # bdc_
    tenant_id: str
    bank_account_id: str | None
    bank_transaction_id: str | None
    payment_id: str | None
    discrepancy: Discrepancy
    status: str  # open | resolved
    at: datetime
    version: int = 0
    resolved_at: datetime | None = None
    resolved_by: str | None = None  # who resolved it (or unmatched its line), or "auto" (the matcher)
    note: str = ""  # why it was resolved ("unmatched", what a person found)


def _discrepancy_record(d: StoredDiscrepancy) -> DiscrepancyRecord:
    return DiscrepancyRecord(
        pk=discrepancy_pk(d.tenant_id, d.discrepancy_id),
        sk=DISCREPANCY_SK,
        tenant_id=d.tenant_id,
        discrepancy_id=d.discrepancy_id,
        bank_account_id=d.bank_account_id,
        bank_transaction_id=d.bank_transaction_id,
        payment_id=d.payment_id,
        discrepancy=discrepancy_json(d.discrepancy),
        status=d.status,
        resolved_at=d.resolved_at,
        resolved_by=d.resolved_by,
        note=d.note or None,
        created_at=d.at,
        updated_at=d.at,
        gsi1pk=f"T#{d.tenant_id}#BDC#{d.status}",
        gsi1sk=f"{d.at.isoformat()}#{d.discrepancy_id}",
    )


def _to_discrepancy(r: DiscrepancyRecord) -> StoredDiscrepancy:
    return StoredDiscrepancy(
        discrepancy_id=r.discrepancy_id,
        tenant_id=r.tenant_id,
        bank_account_id=r.bank_account_id,
        bank_transaction_id=r.bank_transaction_id,
        payment_id=r.payment_id,
        discrepancy=discrepancy_of(r.discrepancy),
        status=r.status,
        at=r.created_at,
        version=int(r.version or 0),
        resolved_at=r.resolved_at,
        resolved_by=r.resolved_by,
        note=r.note or "",
    )


class ReconciliationStore:
    # ------------------------------------------------------------------ totals
    def stage_totals(
        self,
        write: TransactWrite,
        tenant_id: str,
        bank_account_id: str,
        day: date,
        currency: str,
        deltas: dict[str, int],
    ) -> None:
        """ADD `deltas` (counter name -> change, minor units for `*_amount`) to the account's day; an
        unknown name is a ValueError (a typo would otherwise count nowhere)."""
        unknown = set(deltas) - set(TOTALS_COUNTERS)
        if unknown:
            raise ValueError(f"unknown reconciliation counters: {sorted(unknown)}")
        changes = {name: delta for name, delta in deltas.items() if delta}
        if not changes:
            return
        r = ReconciliationTotalsRecord
        item = ReconciliationTotalsRecord(
            pk=totals_pk(tenant_id, bank_account_id), sk=f"{day.isoformat()}#{currency}"
        )
        actions: list[Action] = [
            # The first change creates the item; ADD keeps concurrent changes (no version needed).
            r.kind.set(r.kind | ReconciliationTotalsRecord),
            r.bank_account_id.set(bank_account_id),
            r.day.set(day.isoformat()),
            r.currency.set(currency),
        ]
        actions += [getattr(r, name).add(delta) for name, delta in sorted(changes.items())]
        write.update(item, actions=actions)

    def totals(self, tenant_id: str, bank_account_id: str, first: date, last: date) -> list[DayTotals]:
        """The account's days from `first` to `last` (both inclusive), oldest first: one Query."""
        r = ReconciliationTotalsRecord
        results = r.query(
            totals_pk(tenant_id, bank_account_id), r.sk.between(first.isoformat(), f"{last.isoformat()}#~")
        )
        days = []
        for item in results:
            if not isinstance(item, ReconciliationTotalsRecord):
                continue
            counters = {
                name: int(getattr(item, name)) for name in TOTALS_COUNTERS if getattr(item, name) is not None
            }
            days.append(
                DayTotals(item.bank_account_id, date.fromisoformat(item.day), item.currency, counters)
            )
        return days

    # ------------------------------------------------------------------ learning
    def stage_learned(
        self,
        write: TransactWrite,
        tenant_id: str,
        *,
        iban: str | None,
        remittance_key: str | None,
        counterparty_id: str,
        now: datetime,
    ) -> None:
        """What a person confirmed: this IBAN pays for (and this remittance pattern names) the
        counterparty. Unconditional puts: confirming again changes nothing, a newer pattern wins."""
        if iban:
            write.save(
                CounterpartyIbanRecord(
                    pk=counterparty_iban_pk(tenant_id, iban),
                    sk=counterparty_id,
                    counterparty_id=counterparty_id,
                    source="learned",
                    created_at=now,
                    updated_at=now,
                )
            )
        if remittance_key:
            write.save(
                LearnedPatternRecord(
                    pk=learned_pk(tenant_id, remittance_key),
                    sk=LEARNED_SK,
                    counterparty_id=counterparty_id,
                    created_at=now,
                    updated_at=now,
                )
            )

    # ------------------------------------------------------------------ discrepancies
    def stage_discrepancy(self, write: TransactWrite, discrepancy: StoredDiscrepancy) -> None:
        """The discrepancy (condition: absent); a NOT_IN_BANK one also names itself under its payment
        (`T#<t>#BDCPAY#<pay>`) so the bank line matched to that payment later finds it by one GetItem."""
        write.save(_discrepancy_record(discrepancy), condition=DiscrepancyRecord.pk.does_not_exist())
        d = discrepancy
        if d.discrepancy.kind is DiscrepancyKind.NOT_IN_BANK and d.payment_id:
            write.save(
                DiscrepancyOfPaymentRecord(
                    pk=discrepancy_of_payment_pk(d.tenant_id, d.payment_id),
                    sk=DISCREPANCY_OF_PAYMENT_SK,
                    discrepancy_id=d.discrepancy_id,
                    created_at=d.at,
                    updated_at=d.at,
                )
            )

    def get_discrepancy(self, tenant_id: str, discrepancy_id: str) -> StoredDiscrepancy:
        pk = discrepancy_pk(tenant_id, discrepancy_id)
        return _to_discrepancy(
            get_or_not_found(DiscrepancyRecord, pk, DISCREPANCY_SK, "discrepancy", "discrepancy_id")
        )

    def discrepancies(self, tenant_id: str, discrepancy_ids: list[str]) -> list[StoredDiscrepancy]:
        """The stored discrepancies of these ids (a line's handful: one GetItem each, strongly
        consistent); unknown ids are left out."""
        found = []
        for discrepancy_id in dict.fromkeys(d for d in discrepancy_ids if d):
            try:
                found.append(self.get_discrepancy(tenant_id, discrepancy_id))
            except NotFoundError:
                continue
        return found

    def open_discrepancy_of_payment(self, tenant_id: str, payment_id: str) -> StoredDiscrepancy | None:
        """The payment's open NOT_IN_BANK discrepancy, if any: two GetItems (the lookup, the item)."""
        try:
            named = DiscrepancyOfPaymentRecord.get(
                discrepancy_of_payment_pk(tenant_id, payment_id),
                DISCREPANCY_OF_PAYMENT_SK,
                consistent_read=True,
            )
        except DoesNotExist:
            return None
        try:
            found = self.get_discrepancy(tenant_id, named.discrepancy_id)
        except NotFoundError:
            return None
        return found if found.status == OPEN else None

    def list_discrepancies(
        self, tenant_id: str, *, status: str, limit: int, starting_after: str | None
    ) -> Page[StoredDiscrepancy]:
        """Newest first: one Query on gsi1 `T#<t>#BDC#<status>`."""
        partition = f"T#{tenant_id}#BDC#{status}"
        start = decode_cursor(starting_after, partition_attr="gsi1pk", partition_value=partition)
        results = DiscrepancyRecord.gsi1.query(
            partition, limit=limit, page_size=limit, last_evaluated_key=start, scan_index_forward=False
        )
        items = [_to_discrepancy(r) for r in results if isinstance(r, DiscrepancyRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def stage_discrepancy_resolved(
        self, write: TransactWrite, before: StoredDiscrepancy, *, now: datetime, actor: str, note: str
    ) -> None:
        """Resolve it on the version read, only while it is open (a failed condition fails the
        transaction: someone resolved or changed it meanwhile)."""
        r = DiscrepancyRecord
        record = DiscrepancyRecord(
            pk=discrepancy_pk(before.tenant_id, before.discrepancy_id), sk=DISCREPANCY_SK
        )
        record.version = before.version
        actions: list[Action] = [
            r.status.set(RESOLVED),
            r.gsi1pk.set(f"T#{before.tenant_id}#BDC#{RESOLVED}"),
            r.resolved_at.set(now),
            r.resolved_by.set(actor),
            set_or_remove(r.note, note or None),
            r.updated_at.set(now),
        ]
        write.update(record, actions=actions, condition=r.pk.exists() & (r.status == OPEN))

    def resolve_discrepancy(
        self, before: StoredDiscrepancy, now: datetime, *, actor: str = "auto", note: str = ""
    ) -> StoredDiscrepancy:
        """`stage_discrepancy_resolved` committed alone (ConflictError if it changed, is resolved
        already or is not there); returns it as stored now."""
        work = UnitOfWork("discrepancy was changed by someone else; read it again")
        work.add(
            lambda write: self.stage_discrepancy_resolved(write, before, now=now, actor=actor, note=note)
        ).commit()
        return replace(
            before,
            status=RESOLVED,
            resolved_at=now,
            resolved_by=actor,
            note=note,
            version=before.version + 1,
        )

    # ------------------------------------------------------------------ settings
    def get_settings(self, tenant_id: str) -> ReconciliationSettings:
        """The tenant's settings, or the defaults (version 0) if it never saved any."""
        try:
            r = ReconciliationSettingsRecord.get(settings_pk(tenant_id), SETTINGS_SK, consistent_read=True)
        except DoesNotExist:
            return ReconciliationSettings()
        return ReconciliationSettings(
            auto_match_threshold=int(r.auto_match_threshold),
            not_in_bank_days=int(r.not_in_bank_days),
            version=int(r.version or 0),
        )

    def update_settings(
        self, tenant_id: str, settings: ReconciliationSettings, now: datetime
    ) -> ReconciliationSettings:
        """Save `settings` if the stored ones are still at `settings.version` (0: none saved yet)."""
        record = ReconciliationSettingsRecord(
            pk=settings_pk(tenant_id),
            sk=SETTINGS_SK,
            auto_match_threshold=settings.auto_match_threshold,
            not_in_bank_days=settings.not_in_bank_days,
            created_at=now,
            updated_at=now,
        )
        if settings.version:  # none saved yet: PynamoDB conditions the put on "no version stored"
            record.version = settings.version
        with storage_errors("reconciliation settings were changed by someone else; read them again"):
            record.save()
        return replace(settings, version=settings.version + 1)
