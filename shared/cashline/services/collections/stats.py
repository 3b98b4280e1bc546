"""A campaign's figures (debtors and amount at each step, recovered amount and rate, days to pay,
messages by outcome; per currency, never added up across currencies) and a counterparty's timeline."""

from __future__ import annotations

from typing import Any

from cashline.dal.pagination import Page
from cashline.domain.collection_messages import TimelineEntry
from cashline.services import campaigns
from cashline.services.collections.context import dunning, parties


def campaign_stats(tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """Counts over every run; amounts per currency (runs in several currencies are never added up)."""
    campaign = campaigns.get_campaign(tenant_id, campaign_id)
    raw = dunning.stats(tenant_id, campaign_id)
    per_currency: dict[str, dict[str, Any]] = {}

    def currency_row(ccy: str) -> dict[str, Any]:
        return per_currency.setdefault(
            ccy,
            {
                "currency": ccy,
                "entered": 0,
                "entered_amount": 0,
                "recovered_amount": 0,
                "waiting_by_step": {},
            },
        )

    steps: list[dict[str, Any]] = [
        {"step": i, "channel": s.channel.value, "debtors": 0, "paid_after": 0, "days": 0}
        for i, s in enumerate(campaign.steps)
    ]
    messages: dict[str, dict[str, int]] = {}
    for key, figures in raw.items():
        kind, _, rest = key.partition("#")
        if kind == "TOTAL" and rest:
            row = currency_row(rest)
            row["entered"] += figures["tally"]
            row["entered_amount"] += figures["entered_amount"]
            row["recovered_amount"] += figures["recovered"]
        elif kind in {"STEP", "PAID"} and "#" in rest:
            index_text, ccy = rest.split("#", 1)
            index = int(index_text)
            if index >= len(steps):
                continue
            if kind == "STEP":
                steps[index]["debtors"] += figures["tally"]
                currency_row(ccy)["waiting_by_step"][str(index)] = figures["amount"]
            else:
                steps[index]["paid_after"] += figures["tally"]
                steps[index]["days"] += figures["days"]
        elif kind == "MSG":
            channel, _, outcome = rest.partition("#")
            messages.setdefault(channel, {})[outcome] = figures["tally"]
    by_currency = [
        {
            **row,
            "recovery_rate": round(row["recovered_amount"] / row["entered_amount"], 4)
            if row["entered_amount"]
            else None,
        }
        for _, row in sorted(per_currency.items())
    ]
    single = by_currency[0] if len(by_currency) == 1 else None
    for step in steps:
        step["amount"] = int(single["waiting_by_step"].get(str(step["step"]), 0)) if single else None
        step["average_days_to_pay"] = (
            round(step["days"] / step["paid_after"], 1) if step["paid_after"] else None
        )
        del step["days"]
    return {
        "campaign_id": campaign_id,
        "currency": single["currency"] if single else None,
        "entered": sum(row["entered"] for row in by_currency),
        "entered_amount": single["entered_amount"] if single else None,
        "recovered_amount": single["recovered_amount"] if single else None,
        "recovery_rate": single["recovery_rate"] if single else None,
        "completed_paid": raw.get("PAIDRUNS", {}).get("tally", 0),
        "by_currency": by_currency,
        "steps": steps,
        "messages": messages,
    }


def timeline(
    tenant_id: str, counterparty_id: str, *, limit: int, starting_after: str | None
) -> Page[TimelineEntry]:
    """Every reminder, outcome, promise and collection change for a counterparty, newest first."""
    parties.get_profile(tenant_id, counterparty_id)  # 404 for another tenant's
    return dunning.timeline(tenant_id, counterparty_id, limit=limit, starting_after=starting_after)
