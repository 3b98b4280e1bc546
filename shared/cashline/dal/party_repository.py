"""Counterparties in DynamoDB: profile, totals, uniqueness of tax id and external reference."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from cashline.dal.bank_records import CounterpartyIbanRecord, compact_identification, counterparty_iban_pk
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.party_records import (
    PROFILE_SK,
    TOTALS_SK_PREFIX,
    UNIQUE_SK,
    CounterpartyRecord,
    CounterpartyTotalsRecord,
    UniqueRecord,
    counterparty_pk,
    unique_pk,
)
from cashline.dal.record_fields import loaded_fields, stored_fields
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import UnitOfWork
from cashline.domain.counterparties import Counterparty, CounterpartyTotals
from cashline.domain.invoices import Contribution
from cashline.errors import ConflictError, NotFoundError, ValidationError

# Values a tenant may hold only once, each claimed by a UniqueRecord.
UNIQUE_FIELDS = {"tax_id": "CPTAX", "external_reference": "CPREF"}


def to_counterparty(record: CounterpartyRecord) -> Counterparty:
    return Counterparty(**loaded_fields(Counterparty, record), version=int(record.version or 0))


def _totals(record: CounterpartyTotalsRecord) -> CounterpartyTotals:
    return CounterpartyTotals(
        direction=record.direction,
        currency=record.currency,
        billed=int(record.billed),
        paid=int(record.paid),
        outstanding=int(record.outstanding),
        overdue=int(record.overdue),
        open_count=int(record.open_count),
        credit=int(record.credit or 0),
    )


def _list_keys(tenant_id: str, counterparty: Counterparty) -> dict[str, str | None]:
    sort_key = f"{counterparty.name.casefold()}#{counterparty.counterparty_id}"
    return {
        "gsi1pk": f"T#{tenant_id}#CP",
        "gsi1sk": sort_key,
        "gsi2pk": f"T#{tenant_id}#CPSEG#{counterparty.segment}" if counterparty.segment else None,
        "gsi2sk": sort_key if counterparty.segment else None,
    }


@lru_cache(maxsize=1)
def _readable_adapter() -> TypeAdapter[Counterparty]:
    """What the read path turns a stored profile into: a profile is written only if it reads back as
    one. Built on first write, not at import: it costs every importer ~15 ms of cold start."""
    return TypeAdapter(Counterparty)


def readable(counterparty: Counterparty) -> Counterparty:
    """`counterparty` if the read path can load it (no null name, no null inside the address, ...);
    a ValidationError naming the field otherwise. Every profile write goes through `profile_record`,
    which calls this, so nothing is stored that `get` and `list` cannot answer with."""
    try:
        _readable_adapter().validate_python(asdict(counterparty))
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise ValidationError(f"{field or 'counterparty'}: {first['msg']}", field=field) from exc
    return counterparty


def profile_record(counterparty: Counterparty) -> CounterpartyRecord:
    readable(counterparty)
    return CounterpartyRecord(
        pk=counterparty_pk(counterparty.tenant_id, counterparty.counterparty_id),
        sk=PROFILE_SK,
        **stored_fields(counterparty),  # the profile's fields under the same names (dal/record_fields.py)
        **_list_keys(counterparty.tenant_id, counterparty),  # type: ignore[arg-type]
    )


def unique_record(tenant_id: str, scope: str, value: str, target_id: str, now: datetime) -> UniqueRecord:
    return UniqueRecord(
        pk=unique_pk(tenant_id, scope, value),
        sk=UNIQUE_SK,
        target_id=target_id,
        created_at=now,
        updated_at=now,
    )


def unique_records(counterparty: Counterparty) -> list[UniqueRecord]:
    records = []
    for field, scope in UNIQUE_FIELDS.items():
        value = getattr(counterparty, field)
        if value:
            records.append(
                unique_record(
                    counterparty.tenant_id,
                    scope,
                    value,
                    counterparty.counterparty_id,
                    counterparty.created_at,
                )
            )
    return records


def stage_new_counterparty(write: Any, counterparty: Counterparty) -> None:
    """A new counterparty's profile and the claims on its unique values, for a unit of work: it fails
    whole if the id or a value is taken."""
    write.save(profile_record(counterparty), condition=CounterpartyRecord.pk.does_not_exist())
    for marker in unique_records(counterparty):
        write.save(marker, condition=UniqueRecord.pk.does_not_exist())
    if counterparty.iban:
        write.save(_iban_lookup(counterparty))


def _iban_lookup(counterparty: Counterparty) -> CounterpartyIbanRecord:
    """Bank reconciliation finds who paid by the payer's IBAN (dal.bank_candidates): one item per
    (IBAN, counterparty), so two counterparties sharing an account are seen as ambiguous."""
    return CounterpartyIbanRecord(
        pk=counterparty_iban_pk(counterparty.tenant_id, counterparty.iban or ""),
        sk=counterparty.counterparty_id,
        counterparty_id=counterparty.counterparty_id,
        source="profile",
        created_at=counterparty.updated_at,
        updated_at=counterparty.updated_at,
    )


def _stage_iban_moved(write: Any, before: Counterparty, after: Counterparty) -> None:
    """Move the IBAN lookup with the profile's IBAN (in the profile's transaction)."""
    if compact_identification(before.iban or "") == compact_identification(after.iban or ""):
        return  # the same lookup item (written another way): DynamoDB refuses two writes of one item
    if before.iban:
        old = counterparty_iban_pk(before.tenant_id, before.iban)
        write.delete(CounterpartyIbanRecord(pk=old, sk=before.counterparty_id))
    if after.iban:
        write.save(_iban_lookup(after))


def _stage_claims_moved(write: Any, before: Counterparty, after: Counterparty) -> None:
    """Release the unique values `after` no longer holds and claim its new ones."""
    for field, scope in UNIQUE_FIELDS.items():
        old, new = getattr(before, field), getattr(after, field)
        if old == new:
            continue
        if old:
            write.delete(UniqueRecord(pk=unique_pk(before.tenant_id, scope, old), sk=UNIQUE_SK))
        if new:
            marker = unique_record(after.tenant_id, scope, new, after.counterparty_id, after.updated_at)
            write.save(marker, condition=UniqueRecord.pk.does_not_exist())


def claimed_by(tenant_id: str, scope: str, value: str) -> str | None:
    """The id that holds a unique value, if any (strongly consistent)."""
    try:
        return str(
            UniqueRecord.get(unique_pk(tenant_id, scope, value), UNIQUE_SK, consistent_read=True).target_id
        )
    except DoesNotExist:
        return None


def totals_update(
    tenant_id: str,
    counterparty_id: str,
    direction: str,
    currency: str,
    delta: Contribution,
    now: datetime,
    credit: int = 0,
) -> tuple[CounterpartyTotalsRecord, list[Action]]:
    """An upserting ADD of `delta` (and of a change to the counterparty's credit) to one totals
    item, for use inside a transaction."""
    record = CounterpartyTotalsRecord(
        pk=counterparty_pk(tenant_id, counterparty_id), sk=f"{TOTALS_SK_PREFIX}{direction}#{currency}"
    )
    r = CounterpartyTotalsRecord
    actions: list[Action] = [
        # The first change creates the item: it needs its kind and creation time, later ones keep them.
        r.kind.set(r.kind | CounterpartyTotalsRecord),
        r.direction.set(direction),
        r.currency.set(currency),
        r.created_at.set(r.created_at | now),
        r.updated_at.set(now),
    ]
    actions += [
        getattr(r, name).add(getattr(delta, name))
        for name in ("billed", "paid", "outstanding", "overdue", "open_count")
    ]
    if credit:
        actions.append(r.credit.add(credit))
    return record, actions


class CounterpartyRepository:
    def create(self, counterparty: Counterparty) -> Counterparty:
        """Create the profile and claim its unique values, all or nothing."""
        work = UnitOfWork("counterparty conflicts with an existing one")
        try:
            work.add(lambda write: stage_new_counterparty(write, counterparty)).commit()
        except ConflictError:
            raise self._which_conflict(counterparty) from None
        return replace(counterparty, version=1)

    def _which_conflict(self, counterparty: Counterparty) -> ConflictError:
        for field, scope in UNIQUE_FIELDS.items():
            value = getattr(counterparty, field)
            holder = claimed_by(counterparty.tenant_id, scope, value) if value else None
            if holder and holder != counterparty.counterparty_id:
                return ConflictError(
                    f"a counterparty with this {field} exists", field=field, details={"existing_id": holder}
                )
        return ConflictError("counterparty was created at the same time; retry")

    def get(self, tenant_id: str, counterparty_id: str) -> tuple[Counterparty, list[CounterpartyTotals]]:
        profile: Counterparty | None = None
        totals: list[CounterpartyTotals] = []
        # Queried through the base record: a subclass query would filter out the other kinds.
        for item in CashlineItem.query(counterparty_pk(tenant_id, counterparty_id), consistent_read=True):
            if isinstance(item, CounterpartyRecord):
                profile = to_counterparty(item)
            elif isinstance(item, CounterpartyTotalsRecord) and item.sk.startswith(TOTALS_SK_PREFIX):
                totals.append(_totals(item))
        if profile is None:
            raise NotFoundError("counterparty not found", field="counterparty_id")
        return profile, sorted(totals, key=lambda t: (t.direction, t.currency))

    def get_profile(self, tenant_id: str, counterparty_id: str) -> Counterparty:
        try:
            record = CounterpartyRecord.get(
                counterparty_pk(tenant_id, counterparty_id), PROFILE_SK, consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("counterparty not found", field="counterparty_id") from exc
        return to_counterparty(record)

    def update(self, before: Counterparty, after: Counterparty) -> Counterparty:
        """Save `after` if the counterparty is still at `before.version`; move changed unique claims."""
        record = profile_record(after)
        record.version = before.version
        work = UnitOfWork("counterparty was changed by someone else; read it again")
        work.add(lambda write: write.save(record))
        work.add(lambda write: _stage_claims_moved(write, before, after))
        work.add(lambda write: _stage_iban_moved(write, before, after))
        try:
            work.commit()
        except ConflictError:
            conflict = self._which_conflict(after)
            if conflict.field is None:
                raise ConflictError(
                    "counterparty was changed by someone else; read it again", field="version"
                ) from None
            raise conflict from None
        return to_counterparty(record)

    def find_by_name(self, tenant_id: str, name: str) -> list[Counterparty]:
        """Counterparties whose name is exactly `name` (case-insensitive): one Query on the name index."""
        results = CounterpartyRecord.gsi1.query(
            f"T#{tenant_id}#CP", CounterpartyRecord.gsi1sk.startswith(f"{name.casefold()}#"), limit=2
        )
        return [to_counterparty(item) for item in results if isinstance(item, CounterpartyRecord)]

    def list(
        self, tenant_id: str, *, segment: str | None, limit: int, starting_after: str | None
    ) -> Page[Counterparty]:
        if segment:
            index: Any = CounterpartyRecord.gsi2
            partition, attr = f"T#{tenant_id}#CPSEG#{segment}", "gsi2pk"
        else:
            index, partition, attr = CounterpartyRecord.gsi1, f"T#{tenant_id}#CP", "gsi1pk"
        start = decode_cursor(starting_after, partition_attr=attr, partition_value=partition)
        results = index.query(partition, limit=limit, page_size=limit, last_evaluated_key=start)
        items = [to_counterparty(item) for item in results if isinstance(item, CounterpartyRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))
