"""Collection campaigns as the tenant sets them up: campaigns (versioned), which one applies to whom,
reminder templates (the built-ins, and the tenant's own copies), and the collection settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from cashline.dal.dunning_repository import DunningRepository
from cashline.dal.pagination import Page
from cashline.dal.party_repository import CounterpartyRepository
from cashline.domain.counterparties import Counterparty
from cashline.domain.dunning import (
    Campaign,
    CampaignRuleError,
    CampaignStatus,
    Channel,
    CollectionSettings,
    OwnTemplate,
    Step,
    check_steps,
)
from cashline.errors import ConflictError, NotFoundError, ValidationError
from cashline.ids import is_id_of, new_id

if TYPE_CHECKING:
    from cashline.domain.reminder_templates import ReminderTemplate

dunning = DunningRepository()
parties = CounterpartyRepository()


def _checked(tenant_id: str, steps: tuple[Step, ...]) -> tuple[Step, ...]:
    try:
        check_steps(steps)
    except CampaignRuleError as exc:
        raise ValidationError(str(exc), field=exc.field) from None
    _check_templates(tenant_id, steps)
    return steps


def _check_templates(tenant_id: str, steps: tuple[Step, ...]) -> None:
    """A named template must exist, built in or the tenant's own, on the step's channel and on its
    fallback channel (the fallback renders the same name): else the reminder would silently go out
    with another text. Another tenant's template does not exist for this one."""
    from cashline.domain import reminder_templates as templates  # defer Jinja2 past cold start

    named = [(i, s) for i, s in enumerate(steps) if s.template is not None]
    if not named:
        return
    own = {(r.name, r.channel) for r in dunning.templates(tenant_id)}
    for index, step in named:
        for channel in (step.channel, step.fallback_channel):
            if channel is None or (step.template, channel.value) in own:
                continue
            try:
                templates.builtin(str(step.template), channel.value, templates.FALLBACK_LANGUAGE)
            except KeyError:
                raise ValidationError(
                    f"no template named {step.template!r} for the {channel.value} channel: "
                    "name a built-in one or one of yours (GET /v1/reminder-templates)",
                    field=f"steps[{index}].template",
                ) from None


def create_campaign(
    tenant_id: str, *, name: str, description: str | None, steps: tuple[Step, ...], now: datetime
) -> Campaign:
    campaign = Campaign(
        tenant_id=tenant_id,
        campaign_id=new_id("campaign"),
        name=name,
        description=description,
        steps=_checked(tenant_id, steps),
        status=CampaignStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    return dunning.create_campaign(campaign)


def get_campaign(tenant_id: str, campaign_id: str) -> Campaign:
    if not is_id_of("campaign", campaign_id):
        raise NotFoundError("campaign not found", field="campaign_id")
    return dunning.get_campaign(tenant_id, campaign_id)


def update_campaign(
    tenant_id: str,
    campaign_id: str,
    *,
    expected_version: int,
    name: str | None,
    description: str | None,
    steps: tuple[Step, ...] | None,
    now: datetime,
) -> Campaign:
    """A new revision when the steps change: runs already under way keep the steps they entered with."""
    before = get_campaign(tenant_id, campaign_id)
    if before.record_version != expected_version:
        raise ConflictError("campaign was changed since this version; read it again", field="version")
    if before.status is CampaignStatus.ARCHIVED:
        raise ConflictError("an archived campaign cannot be changed", field="campaign_id")
    new_steps = _checked(tenant_id, steps) if steps is not None else before.steps
    after = replace(
        before,
        name=name or before.name,
        description=description if description is not None else before.description,
        steps=new_steps,
        version=before.version + (1 if new_steps != before.steps else 0),
        updated_at=now,
    )
    return dunning.save_campaign(before, after)


def archive_campaign(tenant_id: str, campaign_id: str, *, now: datetime) -> Campaign:
    """No new runs enter it; runs under way go on to their end."""
    before = get_campaign(tenant_id, campaign_id)
    if before.status is CampaignStatus.ARCHIVED:
        return before
    return dunning.save_campaign(before, replace(before, status=CampaignStatus.ARCHIVED, updated_at=now))


def list_campaigns(tenant_id: str, *, status: str, limit: int, starting_after: str | None) -> Page[Campaign]:
    return dunning.list_campaigns(tenant_id, status=status, limit=limit, starting_after=starting_after)


# --- settings and assignment ---------------------------------------------------------------------


def settings(tenant_id: str) -> CollectionSettings:
    return dunning.settings(tenant_id) or CollectionSettings()


def save_settings(tenant_id: str, wanted: CollectionSettings, *, now: datetime) -> CollectionSettings:
    current = settings(tenant_id)
    if wanted.version != current.version:
        raise ConflictError(
            "collection settings were changed since this version; read them again", field="version"
        )
    named = [("default_campaign_id", wanted.default_campaign_id)]
    named += [(f"campaigns_by_segment.{s}", c) for s, c in wanted.campaigns_by_segment.items()]
    for field_name, campaign_id in named:
        if campaign_id:
            _active_campaign(tenant_id, campaign_id, field_name)
    dunning.save_settings(tenant_id, wanted, now)
    return settings(tenant_id)


def _active_campaign(tenant_id: str, campaign_id: str, field_name: str) -> Campaign:
    try:
        campaign = get_campaign(tenant_id, campaign_id)
    except NotFoundError:
        raise NotFoundError("campaign not found", field=field_name) from None
    if campaign.status is CampaignStatus.ARCHIVED:
        raise ConflictError("the campaign is archived", field=field_name)
    return campaign


def assign(tenant_id: str, counterparty_id: str, campaign_id: str | None, *, now: datetime) -> str | None:
    parties.get_profile(tenant_id, counterparty_id)  # 404 for an unknown or foreign counterparty
    if campaign_id:
        _active_campaign(tenant_id, campaign_id, "campaign_id")
    dunning.assign(tenant_id, counterparty_id, campaign_id, now)
    return campaign_id


def campaign_for(tenant_id: str, counterparty: Counterparty, wanted: str | None = None) -> Campaign | None:
    """The campaign a debtor's invoice enters: the one asked for, else the counterparty's, else its
    segment's default, else the tenant's default."""
    if wanted:
        return _active_campaign(tenant_id, wanted, "campaign_id")
    chosen = dunning.assignment(tenant_id, counterparty.counterparty_id)
    if not chosen:
        config = settings(tenant_id)
        chosen = (
            config.campaigns_by_segment.get(counterparty.segment or "") if counterparty.segment else None
        ) or config.default_campaign_id
    if not chosen:
        return None
    try:
        campaign = dunning.get_campaign(tenant_id, chosen)
    except NotFoundError:
        return None
    return campaign if campaign.status is CampaignStatus.ACTIVE else None


# --- templates -------------------------------------------------------------------------------------


def _to_template(record: OwnTemplate) -> ReminderTemplate:
    from cashline.domain.reminder_templates import ReminderTemplate  # defer Jinja2 past cold start

    return ReminderTemplate(
        name=record.name,
        channel=record.channel,
        language=record.language,
        subject=record.subject,
        body=record.body,
        builtin=False,
    )


def list_templates(tenant_id: str) -> list[ReminderTemplate]:
    from cashline.domain import reminder_templates as templates  # defer Jinja2 past cold start

    own = [_to_template(r) for r in dunning.templates(tenant_id)]
    return sorted(
        [*templates.BUILTIN.values(), *own], key=lambda t: (t.name, t.channel, t.language, t.builtin)
    )


class MissingTemplateError(NotFoundError):
    """A step names a template that exists neither built in nor among the tenant's own."""


def template_for(tenant_id: str, name: str | None, channel: Channel, language: str) -> ReminderTemplate:
    """The tenant's own template of that name in the debtor's language, then in English, then the
    built-in, then the tenant's own in any language; no name: the channel's default built-in.

    A named template found nowhere raises MissingTemplateError: a campaign cannot name one (it is
    checked when saved), so only a campaign saved before that check can; the caller decides."""
    from cashline.domain import reminder_templates as templates  # defer Jinja2 past cold start

    chosen = name or templates.DEFAULT_BY_CHANNEL[channel.value]
    for lang in dict.fromkeys((language, "en")):
        record = dunning.template(tenant_id, chosen, channel.value, lang)
        if record is not None:
            return _to_template(record)
    try:
        return templates.builtin(chosen, channel.value, language)
    except KeyError:
        pass
    for own in dunning.templates(tenant_id):
        if own.name == chosen and own.channel == channel.value:
            return _to_template(own)
    raise MissingTemplateError(
        f"no template named {chosen!r} for the {channel.value} channel", field="template"
    )


def save_template(
    tenant_id: str,
    *,
    name: str,
    channel: Channel,
    language: str,
    subject: str | None,
    body: str | None,
    copy_of: str | None,
    now: datetime,
) -> ReminderTemplate:
    from cashline.domain import reminder_templates as templates  # defer Jinja2 past cold start

    if copy_of:
        try:
            original = templates.builtin(copy_of, channel.value, language)
        except KeyError:
            raise NotFoundError("no such built-in template", field="copy_of") from None
        subject = subject if subject is not None else original.subject
        body = body or original.body
    if not body:
        raise ValidationError("give a body, or copy_of a built-in", field="body")
    for field_name, source in (("subject", subject), ("body", body)):
        if source:
            try:
                templates.validate(source)
            except templates.TemplateProblem as exc:
                raise ValidationError(f"{field_name}: {exc}", field=field_name) from None
    existing = dunning.template(tenant_id, name, channel.value, language)
    template = OwnTemplate(
        tenant_id=tenant_id,
        name=name,
        channel=channel.value,
        language=language,
        subject=subject,
        body=body,
        created_at=existing.created_at if existing else now,
        updated_at=now,
        version=existing.version if existing else 0,
    )
    dunning.save_template(template)
    return _to_template(template)
