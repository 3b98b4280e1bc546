"""Products and prices in DynamoDB (a `Product` / `Price` in, the same out).

Keys (contract of issue 14):
- product `T#<t>#PRD#<prd>` / `PRD`, listed on gsi1 `T#<t>#PRD` / `<prd>`;
- price `T#<t>#PRC#<prc>` / `PRC`, listed on gsi1 `T#<t>#PRC` / `<prc>` and per product on gsi2
  `T#<t>#PRD#<prd>#PRC` / `<prc>`;
- a price's lookup key is claimed by a `UniqueRecord` `T#<t>#UNIQ#PRCLK#<lookup_key>` naming it.

Ids are time-ordered, so every list comes in creation order. Both records are versioned: every write
is conditioned on the version that was read.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.party_records import UNIQUE_SK, UniqueRecord, unique_pk
from cashline.dal.party_repository import claimed_by, unique_record
from cashline.dal.record_fields import loaded_fields, stored_fields
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.catalog import Price, Product, Tier
from cashline.errors import ConflictError, NotFoundError

PRODUCT_SK = "PRD"
PRICE_SK = "PRC"
LOOKUP_KEY_SCOPE = "PRCLK"
# A product whose tax category changes is checked against each of its prices in one transaction
# (DynamoDB: at most 100 items, one of them the product itself).
MAX_PRICES_CHECKED = 99


def product_pk(tenant_id: str, product_id: str) -> str:
    return f"T#{tenant_id}#PRD#{product_id}"


def price_pk(tenant_id: str, price_id: str) -> str:
    return f"T#{tenant_id}#PRC#{price_id}"


def products_partition(tenant_id: str) -> str:
    """gsi1: a tenant's products."""
    return f"T#{tenant_id}#PRD"


def prices_partition(tenant_id: str) -> str:
    """gsi1: a tenant's prices."""
    return f"T#{tenant_id}#PRC"


def product_prices_partition(tenant_id: str, product_id: str) -> str:
    """gsi2: one product's prices."""
    return f"T#{tenant_id}#PRD#{product_id}#PRC"


class ProductRecord(CashlineItem, discriminator="billing_product"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    tax_category = UnicodeAttribute()
    archived = BooleanAttribute()
    metadata = JSONAttribute(null=True)


class PriceRecord(CashlineItem, discriminator="billing_price"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    price_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    unit_amount = NumberAttribute(null=True)
    tiers = JSONAttribute(null=True)  # [{"up_to": int | null, "unit_amount": int, "flat_amount": int}]
    tiers_mode = UnicodeAttribute(null=True)
    interval = UnicodeAttribute(null=True)
    interval_count = NumberAttribute()
    tax_behavior = UnicodeAttribute()
    usage_type = UnicodeAttribute()
    aggregation = UnicodeAttribute()
    lookup_key = UnicodeAttribute(null=True)
    nickname = UnicodeAttribute(null=True)
    active = BooleanAttribute()
    used = BooleanAttribute()
    metadata = JSONAttribute(null=True)


def to_product(record: ProductRecord) -> Product:
    return Product(**loaded_fields(Product, record), version=int(record.version or 0))


def to_price(record: PriceRecord) -> Price:
    fields = loaded_fields(Price, record)
    fields["tiers"] = tuple(
        Tier(
            up_to=None if t["up_to"] is None else int(t["up_to"]),
            unit_amount=int(t["unit_amount"]),
            flat_amount=int(t["flat_amount"]),
        )
        for t in record.tiers or ()
    )
    fields["unit_amount"] = None if record.unit_amount is None else int(record.unit_amount)
    return Price(**fields, version=int(record.version or 0))


def product_record(product: Product) -> ProductRecord:
    return ProductRecord(
        pk=product_pk(product.tenant_id, product.product_id),
        sk=PRODUCT_SK,
        **stored_fields(product),
        gsi1pk=products_partition(product.tenant_id),
        gsi1sk=product.product_id,
    )


def price_record(price: Price) -> PriceRecord:
    fields = stored_fields(price)
    fields["tiers"] = [asdict(tier) for tier in price.tiers] or None
    return PriceRecord(
        pk=price_pk(price.tenant_id, price.price_id),
        sk=PRICE_SK,
        **fields,
        gsi1pk=prices_partition(price.tenant_id),
        gsi1sk=price.price_id,
        gsi2pk=product_prices_partition(price.tenant_id, price.product_id),
        gsi2sk=price.price_id,
    )


def _versioned(record: CashlineItem, version: int) -> CashlineItem:
    """`record` written on condition that the stored item is still at `version` (0: not there)."""
    record.version = version or None  # type: ignore[attr-defined]
    return record


# The prices each open transaction already marks used: DynamoDB refuses a transaction that touches
# one item twice, and a subscription (or a change) may name one price in two items.
_MARKED: WeakKeyDictionary[TransactWrite, set[str]] = WeakKeyDictionary()


def stage_price_used(write: TransactWrite, price: Price, now: datetime) -> None:
    """`used = true` on the price at the version read, while it is still active (once per
    transaction, however often it is asked for)."""
    marked = _MARKED.setdefault(write, set())
    if price.price_id in marked:
        return
    marked.add(price.price_id)
    record = PriceRecord(pk=price_pk(price.tenant_id, price.price_id), sk=PRICE_SK, version=price.version)
    r = PriceRecord
    write.update(record, actions=[r.used.set(True), r.updated_at.set(now)], condition=r.active == True)  # noqa: E712


def _stage_lookup_key_moved(write: TransactWrite, before: Price | None, after: Price) -> None:
    """Release the lookup key `after` no longer holds and claim its new one (same transaction)."""
    old = before.lookup_key if before else None
    if old == after.lookup_key:
        return
    if old:
        released = UniqueRecord(pk=unique_pk(after.tenant_id, LOOKUP_KEY_SCOPE, old), sk=UNIQUE_SK)
        write.delete(released, condition=UniqueRecord.target_id == after.price_id)  # only its own claim
    if after.lookup_key:
        claim = unique_record(
            after.tenant_id, LOOKUP_KEY_SCOPE, after.lookup_key, after.price_id, after.updated_at
        )
        write.save(claim, condition=UniqueRecord.pk.does_not_exist())


class CatalogRepository:
    # ---------------------------------------------------------------------------------- products

    def create_product(self, product: Product) -> Product:
        record = product_record(product)
        work = UnitOfWork("product exists")
        work.add(lambda write: write.save(record, condition=ProductRecord.pk.does_not_exist()))
        work.commit()
        return replace(product, version=1)

    def get_product(self, tenant_id: str, product_id: str) -> Product:
        try:
            record = ProductRecord.get(product_pk(tenant_id, product_id), PRODUCT_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFoundError("product not found", field="product_id") from exc
        return to_product(record)

    def update_product(self, before: Product, after: Product, *, unused_prices: list[Price]) -> Product:
        """Save `after` at `before.version`; every price in `unused_prices` must still be unused
        (the tax category changes only while no price of the product is used)."""
        record = _versioned(product_record(after), before.version)
        work = UnitOfWork("product was changed by someone else, or one of its prices was used; read it again")
        work.add(lambda write: write.save(record))
        for price in unused_prices:
            work.add(partial(_stage_still_unused, price=price))
        work.commit()
        return replace(after, version=before.version + 1)

    def list_products(
        self, tenant_id: str, *, archived: bool | None, limit: int, starting_after: str | None
    ) -> Page[Product]:
        partition = products_partition(tenant_id)
        start = decode_cursor(starting_after, partition_attr="gsi1pk", partition_value=partition)
        results = ProductRecord.gsi1.query(
            partition,
            filter_condition=None if archived is None else ProductRecord.archived == archived,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        )
        items = [to_product(i) for i in results if isinstance(i, ProductRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    # ------------------------------------------------------------------------------------ prices

    def create_price(self, price: Price) -> Price:
        """The price and its lookup-key claim, all or nothing, while its product is not archived."""
        record = price_record(price)
        work = UnitOfWork("price conflicts with an existing one")
        work.add(lambda write: write.save(record, condition=PriceRecord.pk.does_not_exist()))
        work.add(lambda write: _stage_product_open(write, price.tenant_id, price.product_id))
        work.add(lambda write: _stage_lookup_key_moved(write, None, price))
        try:
            work.commit()
        except ConflictError:
            # Not the lookup key: its product was archived meanwhile, or a racing write; retry.
            raise self._which_conflict(price, "the product changed meanwhile; retry", None) from None
        return replace(price, version=1)

    def get_price(self, tenant_id: str, price_id: str) -> Price:
        try:
            record = PriceRecord.get(price_pk(tenant_id, price_id), PRICE_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFoundError("price not found", field="price_id") from exc
        return to_price(record)

    def update_price(self, before: Price, after: Price) -> Price:
        """Save `after` at `before.version`, moving the lookup-key claim with it."""
        record = _versioned(price_record(after), before.version)
        work = UnitOfWork("price was changed by someone else; read it again")
        work.add(lambda write: write.save(record))
        work.add(lambda write: _stage_lookup_key_moved(write, before, after))
        try:
            work.commit()
        except ConflictError:
            conflict = "price was changed by someone else; read it again"
            raise self._which_conflict(after, conflict, "version") from None
        return replace(after, version=before.version + 1)

    def price_by_lookup_key(self, tenant_id: str, lookup_key: str) -> Price | None:
        holder = claimed_by(tenant_id, LOOKUP_KEY_SCOPE, lookup_key)
        if holder is None:
            return None
        try:
            return self.get_price(tenant_id, holder)
        except NotFoundError:
            return None  # a claim whose price write has not happened: there is no such price

    def list_prices(
        self,
        tenant_id: str,
        *,
        product_id: str | None,
        active: bool | None,
        limit: int,
        starting_after: str | None,
    ) -> Page[Price]:
        index: Any
        if product_id:
            index, attr = PriceRecord.gsi2, "gsi2pk"
            partition = product_prices_partition(tenant_id, product_id)
        else:
            index, attr, partition = PriceRecord.gsi1, "gsi1pk", prices_partition(tenant_id)
        start = decode_cursor(starting_after, partition_attr=attr, partition_value=partition)
        results = index.query(
            partition,
            filter_condition=None if active is None else PriceRecord.active == active,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        )
        items = [to_price(i) for i in results if isinstance(i, PriceRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def used_prices_of(self, tenant_id: str, product_id: str) -> tuple[list[Price], list[Price]]:
        """(used, unused) prices of a product: one Query on gsi2, at most MAX_PRICES_CHECKED + 1.

        The index is eventually consistent; the caller's transaction re-checks each unused price on
        the table itself, so only a price created and used within the index's lag (milliseconds)
        could slip past."""
        results = PriceRecord.gsi2.query(
            product_prices_partition(tenant_id, product_id), limit=MAX_PRICES_CHECKED + 1
        )
        prices = [to_price(i) for i in results if isinstance(i, PriceRecord)]
        return [p for p in prices if p.used], [p for p in prices if not p.used]

    def _which_conflict(self, price: Price, otherwise: str, field: str | None) -> ConflictError:
        holder = claimed_by(price.tenant_id, LOOKUP_KEY_SCOPE, price.lookup_key) if price.lookup_key else None
        if holder and holder != price.price_id:
            return ConflictError(
                "another price has this lookup_key", field="lookup_key", details={"existing_id": holder}
            )
        return ConflictError(otherwise, field=field)


def _stage_still_unused(write: TransactWrite, price: Price) -> None:
    write.condition_check(
        PriceRecord,
        price_pk(price.tenant_id, price.price_id),
        PRICE_SK,
        condition=PriceRecord.used == False,  # noqa: E712
    )


def _stage_product_open(write: TransactWrite, tenant_id: str, product_id: str) -> None:
    write.condition_check(
        ProductRecord,
        product_pk(tenant_id, product_id),
        PRODUCT_SK,
        condition=ProductRecord.archived == False,  # noqa: E712
    )
