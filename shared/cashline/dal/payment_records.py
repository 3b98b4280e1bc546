"""Records of payments, processor connections, payment settings and alerts.

Keys (docs/data-model.md, "Payments"):
- a payment is the item `T#<tenant>#PAY#<id>` / `PAY`; its allocations and history are lists on the
  item (small, read together, changed together);
- processor connections are `PCONN#<id>` / `PCONN`: a webhook names only the connection, so its key
  cannot start with the tenant; the record names the tenant and every read checks it;
- a tenant's payment settings are `T#<tenant>` / `PAYSET`;
- invoice number lookups `T#<tenant>#INVNUM#<direction>#<normalized number>` / `<invoice id>` find the
  invoice a remittance text names (numbers are unique per counterparty, not per tenant: a Query);
- payment amount lookups `T#<tenant>#PAYAMT#<kind>#<currency>#<amount>` / `<value date>#<id>` find a
  payout, refund, chargeback or fee a bank line may be (written with the payment, never changed);
- alerts (the outbox of domain events and notifications) are `T#<tenant>#ALERT#<id>` / `ALERT`, on the
  `due` index until they are handed over for delivery.
"""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from cashline.dal.table import CashlineItem

PAYMENT_SK = "PAY"
CONNECTION_SK = "PCONN"
PAYMENT_SETTINGS_SK = "PAYSET"
ALERT_SK = "ALERT"


def payment_pk(tenant_id: str, payment_id: str) -> str:
    return f"T#{tenant_id}#PAY#{payment_id}"


def connection_pk(connection_id: str) -> str:
    return f"PCONN#{connection_id}"


def invoice_number_pk(tenant_id: str, direction: str, normalized_number: str) -> str:
    return f"T#{tenant_id}#INVNUM#{direction}#{normalized_number}"


def payment_amount_pk(tenant_id: str, kind: str, currency: str, amount: int) -> str:
    return f"T#{tenant_id}#PAYAMT#{kind}#{currency}#{amount}"


def alert_pk(tenant_id: str, alert_id: str) -> str:
    return f"T#{tenant_id}#ALERT#{alert_id}"


class PaymentRecord(CashlineItem, discriminator="payment"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    payment_id = UnicodeAttribute()
    direction = UnicodeAttribute()
    source = UnicodeAttribute()
    source_event_id = UnicodeAttribute(null=True)
    source_reference = UnicodeAttribute(null=True)
    connection_id = UnicodeAttribute(null=True)
    payment_kind = UnicodeAttribute()
    status = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    value_date = UnicodeAttribute()
    method = UnicodeAttribute(null=True)
    payer = JSONAttribute(null=True)
    remittance_reference = UnicodeAttribute(null=True)
    targets = JSONAttribute(null=True)
    counterparty_id = UnicodeAttribute(null=True)
    allocations = JSONAttribute(null=True)
    allocated_amount = NumberAttribute(default=0)
    unallocated_amount = NumberAttribute(default=0)
    reversed_amount = NumberAttribute(default=0)
    related_payment_id = UnicodeAttribute(null=True)
    # A payout's composition as its processor reported it (absent on other payments).
    settled_gross = NumberAttribute(null=True)
    fees = NumberAttribute(null=True)
    settled_references = ListAttribute(of=UnicodeAttribute, null=True)
    raw_payload_key = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    hold_reason = UnicodeAttribute(null=True)
    history = JSONAttribute(null=True)


class PaymentAmountRecord(CashlineItem, discriminator="payment_amount"):
    """Finds a payout, refund, chargeback or fee by kind, currency and exact amount (a bank line's):
    `T#<tenant>#PAYAMT#<kind>#<currency>#<amount>` / `<value date>#<payment id>`, written with the
    payment when it is first stored. Never changed: the reader checks the payment itself."""

    payment_id = UnicodeAttribute()


class ProcessorConnectionRecord(CashlineItem, discriminator="processor_connection"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    connection_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # active | disabled
    # Where the secrets live (Secrets Manager); the secrets themselves are never in the table.
    secret_id = UnicodeAttribute()
    secret_hint = UnicodeAttribute(null=True)  # the last four characters of the webhook secret
    previous_secret_expires_at = UTCDateTimeAttribute(null=True)
    has_api_credentials = UnicodeAttribute(default="no")


class PaymentSettingsRecord(CashlineItem, discriminator="payment_settings"):
    version = VersionAttribute()
    allocation_rule = UnicodeAttribute()
    alert_thresholds = JSONAttribute(null=True)  # currency -> minor units
    finance_emails = ListAttribute(of=UnicodeAttribute, null=True)
    webhook_url = UnicodeAttribute(null=True)
    webhook_secret_id = UnicodeAttribute(null=True)
    auto_apply_credit = UnicodeAttribute(default="yes")


class InvoiceNumberRecord(CashlineItem, discriminator="invoice_number"):
    """Finds an invoice by its number (normalized: letters and digits, upper case). Never changed."""

    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    number = UnicodeAttribute()


class AlertRecord(CashlineItem, discriminator="alert"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    alert_id = UnicodeAttribute()
    alert_type = UnicodeAttribute()
    detail = JSONAttribute()
    status = UnicodeAttribute()  # pending | published
    email_status = UnicodeAttribute(null=True)  # sent | none
    webhook_status = UnicodeAttribute(null=True)  # delivered | retrying | failed | none
    webhook_attempts = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)
