"""What a processor payout is made of, read from the processor's API with the tenant's API credential:
the payments it settled (gross), the fees taken, the net paid to the bank, and the settled items'
references.

- Stripe: `GET /v1/balance_transactions?payout=po_...` (the `stripe` SDK, auto-paging). Every
  transaction but the payout's own counts: its `amount` is gross (a refund's is negative), its `fee`
  the fee; a `stripe_fee` transaction (Stripe billing its own services) is a fee of minus its amount.
- GoCardless: `GET /payouts/{id}` (amount, deducted_fees, currency, arrival_date) and
  `GET /payout_items?payout=...` (the gocardless-pro SDK, cursor pages). Items of a `*_fee` type are the
  fees (negative amounts); every other item is settled money (a refund or failure negative).

Listings are bounded (MAX_ITEMS): a payout with more items keeps its fees and net but no gross, so the
"payments minus fees" check is not made on a partial sum. Any failure (network, 5xx, authentication,
an answer that is no payout) raises PayoutDetailsError: the caller retries the whole event later.

The SDKs are imported on the first payout read, not at cold start (as services.debits does for
adapters.processors): the webhook function needs them only for payouts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from cashline.domain.money import MAX_MINOR_UNITS

Processor = Literal["stripe", "gocardless"]
# At most this many settled items are read (and at most MAX_REFERENCES of their references kept).
MAX_ITEMS = 5_000
MAX_REFERENCES = 500
PAGE_SIZE = 100


class PayoutDetailsError(Exception):
    """The processor could not say what the payout is made of now; ask again later."""


@dataclass(frozen=True, slots=True)
class PayoutComposition:
    """A payout as its processor reports it, amounts in minor units of `currency`."""

    processor: Processor
    payout_id: str
    currency: str
    net: int | None  # paid to the bank (GoCardless: the payout's amount; Stripe: from the event)
    fees: int
    gross: int | None  # what the settled items add up to; None when there were more than MAX_ITEMS
    references: tuple[str, ...]  # the settled items' ids at the processor (ch_..., PM...), first ones
    arrival_date: date | None = None


def _int(value: Any, name: str) -> int:
    # GoCardless sends payout item amounts as strings of minor units ("1000", "-29").
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_MINOR_UNITS:
        raise PayoutDetailsError(f"the processor answered an unreadable {name}: {value!r}")
    return value


class _Sum:
    """The running gross, fees and references of a payout's items."""

    def __init__(self) -> None:
        self.gross, self.fees, self.count = 0, 0, 0
        self.references: list[str] = []

    def settled(self, amount: int, fee: int, reference: Any) -> None:
        self.gross += amount
        self.fees += fee
        self.count += 1
        if isinstance(reference, str) and reference and len(self.references) < MAX_REFERENCES:
            self.references.append(reference)

    def fee(self, amount: int) -> None:
        self.fees += amount
        self.count += 1


# --- Stripe ---------------------------------------------------------------------------------------


def _stripe_sum(transactions: Iterable[Mapping[str, Any]]) -> tuple[_Sum, bool]:
    total, complete = _Sum(), True
    for transaction in transactions:
        if total.count >= MAX_ITEMS:
            complete = False
            break
        kind = transaction.get("type")
        amount = _int(transaction.get("amount"), "amount")
        if kind == "payout":
            continue  # the payout itself (minus the net)
        if kind == "stripe_fee":
            total.fee(-amount)
            continue
        total.settled(amount, _int(transaction.get("fee") or 0, "fee"), transaction.get("source"))
    return total, complete


def stripe_payout(
    api_key: str, payout_id: str, *, currency: str, api_base: str | None, timeout_s: float = 10
) -> PayoutComposition:
    """The balance transactions of Stripe payout `payout_id`, summed (module docstring)."""
    import stripe  # defer: the stripe SDK (~60 ms) is loaded by the first payout, not at cold start

    client = stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        http_client=stripe.RequestsClient(timeout=timeout_s),
        max_network_retries=0,
    )
    try:
        listing = client.v1.balance_transactions.list(params={"payout": payout_id, "limit": PAGE_SIZE})
        total, complete = _stripe_sum(t.to_dict() for t in listing.auto_paging_iter())
    except stripe.StripeError as exc:
        raise PayoutDetailsError(f"Stripe could not list payout {payout_id}: {exc}") from exc
    return PayoutComposition(
        processor="stripe",
        payout_id=payout_id,
        currency=currency,
        net=None,
        fees=total.fees,
        gross=total.gross if complete else None,
        references=tuple(total.references),
    )


# --- GoCardless -----------------------------------------------------------------------------------


def _gocardless_items(client: Any, payout_id: str) -> tuple[_Sum, bool]:
    total, after = _Sum(), None
    while True:
        params = {"payout": payout_id, "limit": PAGE_SIZE, **({"after": after} if after else {})}
        page = client.payout_items.list(params=params)
        for item in page.records:
            attributes = getattr(item, "attributes", None) or {}
            amount = _int(attributes.get("amount"), "item amount")
            if str(attributes.get("type") or "").endswith("_fee"):
                total.fee(-amount)
            else:
                total.settled(amount, 0, (attributes.get("links") or {}).get("payment"))
        after = page.after
        if not after:
            return total, True
        if total.count >= MAX_ITEMS:
            return total, False


def gocardless_payout(
    access_token: str, payout_id: str, *, base_url: str | None, timeout_s: float = 10
) -> PayoutComposition:
    """GoCardless payout `payout_id` and its items (module docstring)."""
    # defer: the gocardless_pro SDK is loaded by the first payout, not at cold start
    import gocardless_pro  # type: ignore[import-untyped]  # no type information
    import requests  # defer: with the SDK
    from gocardless_pro import errors as gc_errors  # defer: with the SDK

    if base_url:
        client = gocardless_pro.Client(access_token=access_token, base_url=base_url, timeout=timeout_s)
    else:
        client = gocardless_pro.Client(access_token=access_token, environment="live", timeout=timeout_s)
    try:
        attributes = getattr(client.payouts.get(payout_id), "attributes", None)
        if not isinstance(attributes, Mapping):
            raise PayoutDetailsError(f"GoCardless answered no payout for {payout_id}")
        total, complete = _gocardless_items(client, payout_id)
    except (requests.exceptions.RequestException, gc_errors.GoCardlessProError) as exc:
        raise PayoutDetailsError(f"GoCardless could not read payout {payout_id}: {exc}") from exc
    arrival = attributes.get("arrival_date")
    return PayoutComposition(
        processor="gocardless",
        payout_id=payout_id,
        currency=str(attributes.get("currency") or "").upper(),
        net=_int(attributes.get("amount"), "payout amount"),
        # The payout's own figure for its fees; the items' fee lines add up to it.
        fees=_int(attributes.get("deducted_fees") or 0, "deducted_fees"),
        gross=total.gross if complete else None,
        references=tuple(total.references),
        arrival_date=date.fromisoformat(arrival) if isinstance(arrival, str) else None,
    )


__all__ = ["PayoutComposition", "PayoutDetailsError", "gocardless_payout", "stripe_payout"]
