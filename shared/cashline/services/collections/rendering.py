"""A step's reminder as the debtor reads it: the template in the debtor's language (the tenant's
own, else the built-in), statutory late charges, the sandboxed Jinja2 render; and the preview of a
campaign's reminders for an invoice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar, cast
from zoneinfo import ZoneInfo

from cashline.domain import dunning as runs
from cashline.domain.access import Tenant, today_for
from cashline.domain.counterparties import Counterparty
from cashline.domain.dunning import Channel, Collection, CollectionSettings, Step
from cashline.domain.invoices import Invoice, days_past_due
from cashline.domain.late_charges import ECB_REFERENCE_RATES_BP, LateCharges, late_charges
from cashline.errors import UnprocessableError, ValidationError
from cashline.observability import logger
from cashline.services import campaigns
from cashline.services.collections.context import invoice_of, parties
from cashline.services.collections.debtors import debtor_locale
from cashline.services.collections.entry import new_run
from cashline.services.tenancy import tenants

if TYPE_CHECKING:
    from cashline.domain.reminder_templates import ReminderTemplate

T = TypeVar("T")
# The payment deadline a reminder sets.
PAY_WITHIN = timedelta(days=10)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A step's message on one channel, rendered, with what its delivery needs."""

    channel: Channel
    template: str
    language: str
    subject: str | None
    body: str
    charges: LateCharges | None
    counterparty: Counterparty
    tenant: Tenant
    locale: str


_CACHE: dict[tuple[object, ...], tuple[float, Any]] = {}
# A sweep renders many reminders of one tenant: its settings, name and templates are read once a
# minute, not once a reminder (a change to them reaches reminders within this many seconds).
CACHE_SECONDS = 60.0


def _cached(key: tuple[object, ...], load: Callable[[], T]) -> T:
    hit = _CACHE.get(key)
    if hit is not None and monotonic() - hit[0] < CACHE_SECONDS:
        return cast(T, hit[1])
    value = load()
    if len(_CACHE) > 1_000:
        _CACHE.clear()
    _CACHE[key] = (monotonic(), value)
    return value


def prepare(
    c: Collection, invoice: Invoice, step: Step, index: int, channel: Channel, now: datetime
) -> Prepared:
    """The step's message on a channel, rendered in the debtor's language."""
    tenant = _cached(("tenant", c.tenant_id), lambda: tenants.get(c.tenant_id))
    counterparty = parties.get_profile(c.tenant_id, invoice.counterparty_id)
    config = _cached(("settings", c.tenant_id), lambda: campaigns.settings(c.tenant_id))
    language, _ = debtor_locale(counterparty, tenant)
    template = _cached(
        ("template", c.tenant_id, step.template, channel, language),
        lambda: _sweep_template(c, step, channel, language),
    )
    return rendered(
        invoice, step, index, channel, counterparty, tenant, config, template, today_for(tenant, now)
    )


def _sweep_template(c: Collection, step: Step, channel: Channel, language: str) -> ReminderTemplate:
    try:
        return campaigns.template_for(c.tenant_id, step.template, channel, language)
    except campaigns.MissingTemplateError:
        # Only a run of a campaign saved before templates were checked can name a missing one. The
        # debtor still gets the reminder its lateness calls for, in the channel's default text, and
        # it is logged (the preview refuses such a step instead).
        logger.warning(
            "step names a missing template; the channel's default goes out",
            tenant_id=c.tenant_id,
            campaign_id=c.campaign_id,
            template=step.template,
            channel=channel.value,
        )
        return campaigns.template_for(c.tenant_id, None, channel, language)


def rendered(
    invoice: Invoice,
    step: Step,
    index: int,
    channel: Channel,
    counterparty: Counterparty,
    tenant: Tenant,
    config: CollectionSettings,
    template: ReminderTemplate,
    day: date,
) -> Prepared:
    """A step's message as of `day`: late charges, the context, the sandboxed render."""
    from cashline.domain import reminder_templates as templates  # defer Jinja2 past cold start

    _, locale = debtor_locale(counterparty, tenant)
    charges = late_charges_on(invoice, day, config) if step.late_charges else None
    context = reminder_context(tenant, config, counterparty, invoice, charges, index, channel, day, locale)
    text = templates.render(template, context, locale)
    return Prepared(
        channel,
        template.name,
        template.language,
        text.subject,
        text.body,
        charges,
        counterparty,
        tenant,
        locale,
    )


def reminder_context(
    tenant: Tenant,
    config: CollectionSettings,
    counterparty: Counterparty,
    invoice: Invoice,
    charges: LateCharges | None,
    index: int,
    channel: Channel,
    today: date,
    locale: str,
) -> dict[str, Any]:
    """What a template may name: creditor, debtor, invoice, lateness, charges, the deadline."""
    from cashline.domain import reminder_templates as templates  # defer Jinja2 past cold start

    creditor = config.creditor
    return templates.reminder_context(
        locale=locale,
        creditor_name=str(creditor.get("name") or tenant.name),
        creditor_email=str(creditor.get("email") or ""),
        creditor_phone=str(creditor["phone"]) if creditor.get("phone") else None,
        creditor_iban=str(creditor["iban"]) if creditor.get("iban") else None,
        debtor_name=counterparty.name,
        debtor_language=counterparty.preferred_language or "",
        invoice_number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        amount_due=invoice.amount_due,
        amount_outstanding=invoice.amount_outstanding,
        days_past_due=days_past_due(invoice.due_date, today, invoice.status),
        step_number=index + 1,
        channel=channel.value,
        late_charges=charges,
        pay_by=today + PAY_WITHIN,
    )


def late_charges_on(invoice: Invoice, day: date, config: CollectionSettings) -> LateCharges | None:
    """Statutory late charges as of `day`; for a half-year the rate table does not know yet, the
    latest known reference rate (the tenant can set its own in the collection settings)."""
    if day <= invoice.due_date or invoice.amount_outstanding <= 0:
        return None
    rate = config.reference_rate_bp
    try:
        return late_charges(
            invoice.amount_outstanding, invoice.currency, invoice.due_date, day, reference_rate_bp=rate
        )
    except ValueError:
        latest = ECB_REFERENCE_RATES_BP[max(ECB_REFERENCE_RATES_BP)]
        logger.warning("reference rate unknown for the period; the latest known one used", rate_bp=latest)
        return late_charges(
            invoice.amount_outstanding, invoice.currency, invoice.due_date, day, reference_rate_bp=latest
        )


def charges_dict(charges: LateCharges | None) -> dict[str, Any] | None:
    if charges is None:
        return None
    return {
        "days_late": charges.days_late,
        "interest": charges.interest,
        "compensation": charges.compensation,
        "total": charges.total,
    }


# --- the preview -----------------------------------------------------------------------------------


def preview(
    tenant_id: str,
    campaign_id: str,
    invoice_id: str,
    *,
    step: int | None,
    language: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """A campaign's reminders for an invoice, as the debtor would get them (in `language`, if given)."""
    campaign = campaigns.get_campaign(tenant_id, campaign_id)
    invoice = invoice_of(tenant_id, invoice_id)
    tenant = tenants.get(tenant_id)
    counterparty = parties.get_profile(tenant_id, invoice.counterparty_id)
    if language:
        counterparty = replace(counterparty, preferred_language=language)
    if step is not None and step >= len(campaign.steps):
        raise ValidationError(f"the campaign has {len(campaign.steps)} steps", field="step")
    run = new_run(tenant, invoice, counterparty, campaign, now)
    indexes = [step] if step is not None else list(range(len(campaign.steps)))
    shown = []
    for index in indexes:
        s = campaign.steps[index]
        if s.channel is Channel.RETRY_PAYMENT:
            continue  # a charge, not a message: nothing the debtor reads
        moment = runs.step_moment(run, invoice.due_date, index, now) or now
        p = _prepare_for(run, invoice, s, index, counterparty, tenant, moment)
        shown.append(
            {
                "step": index,
                "channel": s.channel.value,
                "template": p.template,
                "language": p.language,
                "subject": p.subject,
                "body": p.body,
                "late_charges": charges_dict(p.charges),
            }
        )
    return shown


def _prepare_for(
    run: Collection,
    invoice: Invoice,
    step: Step,
    index: int,
    counterparty: Counterparty,
    tenant: Tenant,
    moment: datetime,
) -> Prepared:
    """Like `prepare`, with a given counterparty (a preview in another language), as of the step's day
    and with the settings and templates as they are now (no cache: a preview follows an edit at once)."""
    language, _ = debtor_locale(counterparty, tenant)
    try:
        template = campaigns.template_for(tenant.tenant_id, step.template, step.channel, language)
    except campaigns.MissingTemplateError as exc:
        # A preview shows what would go out: never another text in place of a missing one.
        raise UnprocessableError(
            f"{exc.message}: edit the campaign's step {index}", field=f"steps[{index}].template"
        ) from None
    day = moment.astimezone(ZoneInfo(tenant.timezone)).date()
    config = campaigns.settings(tenant.tenant_id)
    return rendered(invoice, step, index, step.channel, counterparty, tenant, config, template, day)
