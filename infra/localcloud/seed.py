"""Demo data for `make run`: a tenant, keys of each role, a realistic book of invoices and bills in
several currencies, some overdue, one disputed, a bank account with an imported statement
(`localcloud.demo_bank`), and a subscription catalog with subscriptions and their invoices
(`localcloud.demo_billing`).

Everything goes through the services the API uses, never raw table writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from cashline.domain.access import Role
from cashline.domain.dunning import CollectionSettings
from cashline.domain.invoices import Direction, InvoiceStatus, LineInput, NewInvoice
from cashline.domain.plans import DebitMethod, FinancingSettings
from cashline.services.access import TenantSettings, create_api_key, create_tenant
from cashline.services.counterparties import create_counterparty
from cashline.services.financing import PlanRequest, finance_invoice, update_settings
from cashline.services.invoices import change_status, create_invoice, get_invoice
from localcloud.demo_bank import DemoBank, seed_bank
from localcloud.demo_billing import DemoBilling, seed_billing
from localcloud.paths import LOCAL_STATE

CUSTOMERS: list[dict[str, Any]] = [
    {
        "name": "Bäckerei Sonnenschein KG",
        "country": "DE",
        "segment": "smb",
        "preferred_language": "de",
        "email": "buchhaltung@sonnenschein.example",
        "tax_id": "DE811111111",
        "iban": "DE89370400440532013000",
    },
    {
        "name": "Alpine Logistics AG",
        "country": "CH",
        "segment": "enterprise",
        "preferred_language": "de_CH",
        "email": "ap@alpine-logistics.example",
        "tax_id": "CHE123456789",
    },
    {
        "name": "Harbour & Sons Ltd",
        "country": "GB",
        "segment": "enterprise",
        "preferred_language": "en_GB",
        "email": "accounts@harbour.example",
        "external_reference": "CRM-0042",
    },
    {
        "name": "Studio Lumière SARL",
        "country": "FR",
        "segment": "smb",
        "preferred_language": "fr",
        "email": "compta@lumiere.example",
    },
]
SUPPLIERS: list[dict[str, Any]] = [
    {"name": "Stahlwerk Ruhr GmbH", "country": "DE", "segment": "supplier", "iban": "DE02120300000000202051"},
    {"name": "Nordic Components AB", "country": "SE", "segment": "supplier"},
]
# (customer index, number, currency, lines [(description, quantity, unit amount, rate)], issued days ago,
#  days to pay, status after creation)
RECEIVABLES = [
    (0, "RE-2026-1001", "EUR", [("Maintenance contract Q4", "1", 450000, "19")], 75, 30, None),
    (
        0,
        "RE-2026-1017",
        "EUR",
        [("Spare parts", "12", 1850, "19"), ("Delivery", "1", 2500, "19")],
        20,
        14,
        None,
    ),
    (1, "RE-2026-1002", "CHF", [("Conveyor installation", "1", 1280000, "8.1")], 50, 30, None),
    (1, "RE-2026-1023", "CHF", [("Service hours", "7.5", 14500, "8.1")], 5, 30, None),
    (2, "RE-2026-1009", "GBP", [("Hydraulic press", "1", 2390000, "20")], 40, 30, "disputed"),
    (2, "RE-2026-1024", "GBP", [("Training day", "2", 95000, "20")], 3, 30, None),
    (3, "RE-2026-1011", "EUR", [("Lighting rig rental", "3", 42000, "20")], 100, 30, None),
    (3, "RE-2026-1027", "EUR", [("Stage lighting design", "2", 65000, "20")], 6, 30, None),
]
PAYABLES = [
    (0, "SW-88812", "EUR", [("Steel sheet 2mm", "40", 18900, "19")], 25, 30),
    (0, "SW-88790", "EUR", [("Steel profiles", "120", 4150, "19")], 55, 30),
    (1, "NC-2026-331", "SEK", [("Bearings", "500", 8900, "25")], 10, 45),
]


@dataclass(frozen=True, slots=True)
class DemoTenant:
    tenant_id: str
    keys: dict[Role, str]
    bank: DemoBank
    billing: DemoBilling | None = None


def _lines(specs: list[tuple[str, str, int, str]]) -> list[LineInput]:
    return [
        LineInput(description=d, quantity=Decimal(q), unit_amount=u, tax_rate=Decimal(r))
        for d, q, u, r in specs
    ]


def seed_demo(now: datetime) -> DemoTenant:
    tenant = create_tenant(
        TenantSettings(
            name="Nordlicht Maschinenbau GmbH",
            country="DE",
            base_currency="EUR",
            timezone="Europe/Berlin",
            tax_id="DE999999999",
        ),
        now=now,
    )
    keys = {
        role: create_api_key(tenant.tenant_id, name=f"demo {role.value}", role=role, now=now).secret
        for role in (Role.ADMIN, Role.FINANCE, Role.READ_ONLY)
    }
    actor = "system:demo-seed"
    customers = [create_counterparty(tenant.tenant_id, c, now=now).counterparty for c in CUSTOMERS]
    suppliers = [create_counterparty(tenant.tenant_id, s, now=now).counterparty for s in SUPPLIERS]
    today = now.date()
    numbers: dict[str, str] = {}  # invoice number -> id, for the bank statement made from them
    # The campaign first: the receivables created overdue enter it with their creation.
    _seed_insight(tenant.tenant_id, now)
    for who, number, currency, lines, issued_ago, terms, status in RECEIVABLES:
        issued = today - timedelta(days=issued_ago)
        view = create_invoice(
            tenant.tenant_id,
            _new(
                Direction.RECEIVABLE, customers[who].counterparty_id, number, currency, lines, issued, terms
            ),
            actor=actor,
            now=now,
        )
        numbers[number] = view.invoice.invoice_id
        if status:
            change_status(
                tenant.tenant_id,
                view.invoice.invoice_id,
                InvoiceStatus(status),
                actor=actor,
                now=now,
                note="customer says the press was delivered late",
            )
    bills = []
    for who, number, currency, lines, issued_ago, terms in PAYABLES:
        issued = today - timedelta(days=issued_ago)
        bills.append(
            create_invoice(
                tenant.tenant_id,
                _new(
                    Direction.PAYABLE, suppliers[who].counterparty_id, number, currency, lines, issued, terms
                ),
                actor=actor,
                now=now,
            )
        )
        numbers[number] = bills[-1].invoice.invoice_id
    # Financing: debits go to the local processor stand-in; one open bill is financed in 6 installments.
    update_settings(
        tenant.tenant_id,
        FinancingSettings(
            reminder_email="finance@nordlicht.example",
            debit=DebitMethod(processor="stripe", customer_id="cus_demo", payment_method_id="pm_demo"),
        ),
        now=now,
    )
    open_bill = next(
        b for b in bills if b.invoice.status is InvoiceStatus.OPEN and b.invoice.currency == "EUR"
    )
    finance_invoice(
        tenant.tenant_id,
        open_bill.invoice.invoice_id,
        PlanRequest(payout_date=today + timedelta(days=3), installments=6),
        actor=actor,
        now=now,
    )
    _seed_payments(tenant.tenant_id, customers[0].counterparty_id, now)
    # The bank statement last: it pays what the invoices owe after the payments above.
    demo_bank = seed_bank(
        tenant.tenant_id,
        {n: get_invoice(tenant.tenant_id, i, now=now).invoice for n, i in numbers.items()},
        {party["name"]: party.get("iban") for party in CUSTOMERS + SUPPLIERS},
        now,
    )
    # Subscription billing after the bank: its invoices are not in the demo's statement.
    billing = seed_billing(tenant.tenant_id, {c.name: c.counterparty_id for c in customers}, now)
    LOCAL_STATE.mkdir(exist_ok=True)
    (LOCAL_STATE / "demo_api_key").write_text(keys[Role.ADMIN] + "\n")
    (LOCAL_STATE / "demo_tenant_id").write_text(tenant.tenant_id + "\n")
    return DemoTenant(tenant_id=tenant.tenant_id, keys=keys, bank=demo_bank, billing=billing)


def _new(
    direction: Direction,
    counterparty_id: str,
    number: str,
    currency: str,
    lines: list[tuple[str, str, int, str]],
    issued: date,
    terms: int,
) -> NewInvoice:
    return NewInvoice(
        direction=direction,
        number=number,
        issue_date=issued,
        due_date=issued + timedelta(days=terms),
        currency=currency,
        counterparty_id=counterparty_id,
        lines=_lines(lines),
    )


DEMO_STRIPE_WEBHOOK_SECRET = "whsec_cashline_demo_local_only"


def _seed_payments(tenant_id: str, customer_id: str, now: datetime) -> None:
    """Payment settings, a Stripe connection (its webhook secret in `.local/demo_stripe_webhook_secret`
    to sign your own test deliveries), a partial bank transfer found by the invoice number in its
    remittance text, and a transfer from an unknown payer held for a person."""
    from cashline.adapters.secrets import SecretStore
    from cashline.config import api_settings, url_text
    from cashline.dal.payment_settings import PaymentSettings, save_payment_settings
    from cashline.domain.payments import PaymentSource
    from cashline.ids import new_id
    from cashline.services import connections
    from cashline.services.payments import context, manual

    settings = api_settings()
    store = SecretStore(
        prefix=settings.secrets_prefix, region=settings.region, endpoint=url_text(settings.aws_endpoint)
    )
    save_payment_settings(
        tenant_id,
        PaymentSettings(alert_thresholds={"EUR": 1_000_000}, finance_emails=("finance@nordlicht.example",)),
        now,
    )
    connection = connections.create(
        store,
        tenant_id,
        provider="stripe",
        name="Stripe (demo)",
        webhook_secret=DEMO_STRIPE_WEBHOOK_SECRET,
        api_key=None,
        now=now,
    )
    LOCAL_STATE.mkdir(exist_ok=True)
    (LOCAL_STATE / "demo_stripe_webhook_secret").write_text(DEMO_STRIPE_WEBHOOK_SECRET + "\n")
    (LOCAL_STATE / "demo_stripe_webhook_path").write_text(connection.webhook_path + "\n")
    transfers = [
        (200_000, "Kunde Nordwerk", "Teilzahlung Rechnung RE-2026-1001", customer_id),
        (31_500, "J. Doe", "Spende / donation", None),
    ]
    for amount, payer, text, counterparty in transfers:
        ctx = context.context_for(tenant_id, now=now, actor="system:demo-seed")
        event = manual.manual_event(
            source=PaymentSource.BANK_TRANSFER,
            amount=amount,
            currency="EUR",
            value_date=now.date(),
            method="bank_transfer",
            payer_name=payer,
            payer_iban=None,
            remittance_reference=text,
            invoice_id=None,
            bank_reference=f"DEMO-{new_id('event')}",
            event_id=new_id("event"),
            now=now,
        )
        manual.record_payment(ctx, event, invoice_amount=None, counterparty_id=counterparty)


def _seed_insight(tenant_id: str, now: datetime) -> None:
    """Today's exchange rates (the reports' base-currency figures) and a default collection campaign:
    the demo invoices created overdue enter it at once, the others when they fall overdue."""
    from decimal import Decimal

    from cashline.dal.fx_repository import save_rates
    from cashline.domain.dunning import Channel, Step
    from cashline.domain.fx import Rate
    from cashline.services import campaigns

    rates = {"CHF": "0.9312", "GBP": "0.8417", "SEK": "11.5230"}
    save_rates(
        tenant_id,
        [Rate(day=now.date(), base="EUR", quote=q, rate=Decimal(r)) for q, r in rates.items()],
        "demo",
        now,
    )
    plan = campaigns.create_campaign(
        tenant_id,
        name="Standard reminders",
        description="Friendly before the due date, then e-mail with the invoice, SMS, letter and a call",
        steps=(
            Step(-3, Channel.EMAIL, template="friendly_reminder"),
            Step(3, Channel.EMAIL, template="first_reminder", attach_invoice=True, late_charges=True),
            Step(10, Channel.SMS, template="second_reminder", fallback_channel=Channel.EMAIL),
            Step(20, Channel.LETTER, template="second_reminder", late_charges=True),
            Step(30, Channel.CALL_TASK, template="final_notice"),
        ),
        now=now,
    )
    campaigns.save_settings(
        tenant_id,
        CollectionSettings(
            default_campaign_id=plan.campaign_id,
            default_assignee="collections@nordlicht.example",
            creditor={"email": "buchhaltung@nordlicht.example", "iban": "DE89370400440532013000"},
        ),
        now=now,
    )
