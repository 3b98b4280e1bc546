"""Records of collection campaigns (dunning).

Keys (docs/data-model.md, "Collection"):
- a campaign is the item collection `T#<tenant>#CMP#<cmp>`: header `CMP`, one immutable snapshot per
  revision `CMPV#<nnnn>`, and its running figures `STAT#...` (ADD-only counters);
- an invoice's collection lives in the invoice's own item collection `T#<tenant>#INV#<inv>`: `RUN`
  (the run), `MSG#<nn>#<channel>` (each message), `PROM#<id>` (promises to pay);
- letters `T#<tenant>#LTR#<id>` / `LTR`, tasks `T#<tenant>#TASK#<id>` / `TASK`, reminder templates
  `T#<tenant>#TPL` / `<name>#<channel>#<language>`, settings `T#<tenant>` / `COLLSET`, a
  counterparty's campaign `T#<tenant>#CP#<cp>` / `CMPSET`, its timeline `T#<tenant>#CP#<cp>#TL` /
  `<at>#<id>`;
- `PMSG#<provider message id>` / `PMSG` finds the message an SES or SNS delivery report is about
  (the report names only the provider's id).
"""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from cashline.dal.table import CashlineItem

CAMPAIGN_SK = "CMP"
CAMPAIGN_REVISION_SK_PREFIX = "CMPV#"
STATS_SK_PREFIX = "STAT#"
# Sorts after the messages and promises, so one Query `sk >= "MSG#"` reads exactly those three kinds
# (the header, lines, documents and audit trail sort before).
COLLECTION_SK = "RUN"
MESSAGE_SK_PREFIX = "MSG#"
PROMISE_SK_PREFIX = "PROM#"
LETTER_SK = "LTR"
TASK_SK = "TASK"
SETTINGS_SK = "COLLSET"
ASSIGNMENT_SK = "CMPSET"
PROVIDER_MESSAGE_SK = "PMSG"


def campaign_pk(tenant_id: str, campaign_id: str) -> str:
    return f"T#{tenant_id}#CMP#{campaign_id}"


def letter_pk(tenant_id: str, letter_id: str) -> str:
    return f"T#{tenant_id}#LTR#{letter_id}"


def task_pk(tenant_id: str, task_id: str) -> str:
    return f"T#{tenant_id}#TASK#{task_id}"


def templates_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#TPL"


def timeline_pk(tenant_id: str, counterparty_id: str) -> str:
    return f"T#{tenant_id}#CP#{counterparty_id}#TL"


class CampaignRecord(CashlineItem, discriminator="campaign"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    steps = JSONAttribute()
    status = UnicodeAttribute()
    revision = NumberAttribute()


class CampaignRevisionRecord(CashlineItem, discriminator="campaign_revision"):
    """The steps of one revision, as debtors who entered with it run through them. Never changed."""

    revision = NumberAttribute()
    steps = JSONAttribute()


class CampaignStatRecord(CashlineItem, discriminator="campaign_stat"):
    """One running figure of a campaign (ADD only): `STAT#TOTAL`, `STAT#STEP#<nn>` (debtors and
    amount waiting at that step), `STAT#PAID#<nn>` (paid after that step: count, days, amount),
    `STAT#MSG#<channel>#<outcome>`."""

    tally = NumberAttribute(default=0)  # `count` is taken: Model.count
    amount = NumberAttribute(default=0)
    days = NumberAttribute(default=0)
    recovered = NumberAttribute(default=0)
    entered_amount = NumberAttribute(default=0)


class CollectionRecord(CashlineItem, discriminator="collection"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    campaign_version = NumberAttribute()
    steps = JSONAttribute()
    status = UnicodeAttribute()
    next_step = NumberAttribute()
    next_at = UTCDateTimeAttribute(null=True)
    entered_at = UTCDateTimeAttribute()
    outstanding_at_entry = NumberAttribute()
    paid_at_entry = NumberAttribute()
    last_paid = NumberAttribute()
    currency = UnicodeAttribute()
    timezone = UnicodeAttribute()
    pause_reason = UnicodeAttribute(null=True)
    paused_until = UTCDateTimeAttribute(null=True)
    steps_done = JSONAttribute(null=True)
    step_sent_at = JSONAttribute(null=True)  # step index -> ISO instant it went out


class MessageRecord(CashlineItem, discriminator="collection_message"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    step_index = NumberAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()  # sending | sent | failed | bounced | awaiting_approval | unknown
    recipient = UnicodeAttribute(null=True)
    provider_id = UnicodeAttribute(null=True)
    template = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    problem = UnicodeAttribute(null=True)
    letter_id = UnicodeAttribute(null=True)
    task_id = UnicodeAttribute(null=True)
    late_charges = JSONAttribute(null=True)


class ProviderMessageRecord(CashlineItem, discriminator="provider_message"):
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    message_sk = UnicodeAttribute()


class PromiseRecord(CashlineItem, discriminator="promise"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    promise_id = UnicodeAttribute()
    promised_date = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    paid_at_promise = NumberAttribute()
    status = UnicodeAttribute()  # open | kept | broken | cancelled
    actor = UnicodeAttribute()
    note = UnicodeAttribute(null=True)


class LetterRecord(CashlineItem, discriminator="letter"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    letter_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    recipient_name = UnicodeAttribute()
    address = JSONAttribute(null=True)
    s3_key = UnicodeAttribute()
    status = UnicodeAttribute()  # ready | printed | mailed | cancelled
    language = UnicodeAttribute()
    size_bytes = NumberAttribute()


class TaskRecord(CashlineItem, discriminator="task"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    task_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    counterparty_name = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)
    assignee = UnicodeAttribute(null=True)
    due_date = UnicodeAttribute()
    script = UnicodeAttribute()
    status = UnicodeAttribute()  # open | done | cancelled
    outcome = UnicodeAttribute(null=True)
    notes = UnicodeAttribute(null=True)
    reminded = UnicodeAttribute(default="no")


class ReminderTemplateRecord(CashlineItem, discriminator="reminder_template"):
    version = VersionAttribute()
    name = UnicodeAttribute()
    channel = UnicodeAttribute()
    language = UnicodeAttribute()
    subject = UnicodeAttribute(null=True)
    body = UnicodeAttribute()


class CollectionSettingsRecord(CashlineItem, discriminator="collection_settings"):
    version = VersionAttribute()
    default_campaign_id = UnicodeAttribute(null=True)
    campaigns_by_segment = JSONAttribute(null=True)
    default_assignee = UnicodeAttribute(null=True)
    reference_rate_bp = NumberAttribute(null=True)
    creditor = JSONAttribute(null=True)  # name, address lines, iban, email, phone shown on reminders
    email_statements = UnicodeAttribute(null=True)  # "yes": the monthly statements are e-mailed


class CampaignAssignmentRecord(CashlineItem, discriminator="campaign_assignment"):
    campaign_id = UnicodeAttribute()


class TimelineRecord(CashlineItem, discriminator="timeline_entry"):
    """One line of a counterparty's collection timeline. Never changed."""

    invoice_id = UnicodeAttribute(null=True)
    entry_kind = UnicodeAttribute()
    summary = UnicodeAttribute()
    detail = JSONAttribute(null=True)
