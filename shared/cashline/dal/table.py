"""The one Cashline table: its key attributes, its indexes, and how it is bound at cold start.

Single-table design: every entity is a subclass of `CashlineItem` told apart by `kind`.
template.yaml declares the same keys and indexes; tests/integration/test_template_models.py
fails when the two disagree, and local tables are created from the template itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pynamodb.attributes import (
    DiscriminatorAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from cashline.config import url_text

if TYPE_CHECKING:  # the settings models are imported on the first event (cashline.config)
    from cashline.config import TableSettings

UNBOUND_TABLE = "cashline-unbound"


class Gsi1Index(GlobalSecondaryIndex["CashlineItem"]):
    """gsi1..gsi6 are overloaded secondary access paths, all projecting the whole item so a list
    page needs no follow-up reads; each entity documents what it puts in them (docs/data-model.md).
    Only small "header" items carry index keys (an invoice's lines live in a separate item)."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2Index(GlobalSecondaryIndex["CashlineItem"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3Index(GlobalSecondaryIndex["CashlineItem"]):
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Gsi4Index(GlobalSecondaryIndex["CashlineItem"]):
    class Meta:
        index_name = "gsi4"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class Gsi5Index(GlobalSecondaryIndex["CashlineItem"]):
    class Meta:
        index_name = "gsi5"
        projection = AllProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


class Gsi6Index(GlobalSecondaryIndex["CashlineItem"]):
    class Meta:
        index_name = "gsi6"
        projection = AllProjection()

    gsi6pk = UnicodeAttribute(hash_key=True)
    gsi6sk = UnicodeAttribute(range_key=True)


class DueIndex(GlobalSecondaryIndex["CashlineItem"]):
    """Sparse index of work that falls due: partition `DUE#<job>#<shard>`, sort `<instant>#...`.

    Sweeps query every shard of their job with `due_sk <= now`, so they read only what is due, and
    all of it however long ago it fell due (cashline.dal.due); the shard suffix spreads a job over
    several partitions. An item leaves the index when its job is done (the attributes are removed).
    """

    class Meta:
        index_name = "due"
        projection = AllProjection()

    due_pk = UnicodeAttribute(hash_key=True)
    due_sk = UnicodeAttribute(range_key=True)


class CashlineItem(Model):
    """Base of every record. Mutable records add `version = VersionAttribute()` (optimistic locking:
    PynamoDB conditions each save/update/delete on it); immutable records (claims, uniqueness
    markers, audit events) and commutative counters (ADD-only totals) have no use for one."""

    class Meta:
        table_name = UNBOUND_TABLE
        host: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1Index()

    due_pk = UnicodeAttribute(null=True)
    due_sk = UnicodeAttribute(null=True)
    due = DueIndex()

    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi2 = Gsi2Index()

    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi3 = Gsi3Index()

    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    gsi4 = Gsi4Index()

    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    gsi5 = Gsi5Index()

    gsi6pk = UnicodeAttribute(null=True)
    gsi6sk = UnicodeAttribute(null=True)
    gsi6 = Gsi6Index()

    # DynamoDB TTL (template: TimeToLiveSpecification on `expires_at_epoch`).
    expires_at_epoch = TTLAttribute(null=True)


def _all_models() -> list[type[Model]]:
    found: list[type[Model]] = []
    pending: list[type[Any]] = [CashlineItem]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def bind_table(table_name: str, *, region: str, endpoint: str | None) -> None:
    """Point every record class at the deployed (or local) table; forget cached connections."""
    CashlineItem.Meta.table_name = table_name
    CashlineItem.Meta.region = region
    CashlineItem.Meta.host = endpoint
    for model in _all_models():
        model._connection = None


def tenant_pk(tenant_id: str) -> str:
    """Every tenant-owned item collection starts with the tenant: no key without it."""
    if not tenant_id:
        raise ValueError("a tenant id is required")
    return f"T#{tenant_id}"


def bind_from_settings(settings: TableSettings) -> None:
    endpoint = url_text(settings.dynamodb_endpoint)
    bind_table(settings.table_name, region=settings.region, endpoint=endpoint)
