"""Requests and responses of collection campaigns, runs, promises, letters, tasks and templates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from cashline.domain.dunning import MESSAGE_CHANNELS, Campaign, Channel, Collection, Step
from cashline.schemas.common import FREE_TEXT, BusinessDate, ListQuery, MinorUnits, OutputModel, RequestModel

ShortText = Annotated[str, Field(min_length=1, max_length=200)]
TemplateName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,49}$", examples=["first_reminder"])]
Language = Annotated[str, Field(pattern=r"^[a-z]{2}$", examples=["de"])]


def _message_channel(channel: Channel) -> Channel:
    if channel not in MESSAGE_CHANNELS:
        raise ValueError(f"{channel.value} sends no message: it has no templates")
    return channel


MessageChannel = Annotated[Channel, AfterValidator(_message_channel)]


class StepModel(RequestModel):
    offset_days: int = Field(ge=-60, le=365, description="Days after the due date (negative: before it)")
    channel: Channel = Field(
        description="How the step reaches the debtor; retry_payment charges the saved payment method "
        "of a subscription invoice again instead of sending a message"
    )
    template: TemplateName | None = Field(
        default=None, description="A built-in or your own template; the channel's default when omitted"
    )
    attach_invoice: bool = Field(default=False, description="E-mail: attach the invoice PDF")
    late_charges: bool = Field(
        default=False,
        description="Show statutory interest (reference rate + 8 points) and the 40 EUR compensation",
    )
    require_approval: bool = Field(default=False, description="Prepare it, then wait for a person's approval")
    send_on_weekends: bool = False
    fallback_channel: Channel | None = Field(default=None, description="When this channel fails or bounces")
    assignee: Annotated[str, Field(max_length=254)] | None = Field(
        default=None, description="Call tasks: who calls (default: the collection settings' assignee)"
    )

    def to_step(self) -> Step:
        return Step(**self.model_dump())

    @classmethod
    def of(cls, step: Step) -> StepModel:
        return cls.model_construct(**{f: getattr(step, f) for f in cls.model_fields})


class CreateCampaignRequest(RequestModel):
    name: ShortText
    description: Annotated[str, Field(max_length=1000), FREE_TEXT] | None = None
    steps: Annotated[list[StepModel], Field(min_length=1, max_length=20)]


class UpdateCampaignRequest(RequestModel):
    version: int = Field(ge=1, description="The version you read")
    name: ShortText | None = None
    description: Annotated[str, Field(max_length=1000), FREE_TEXT] | None = None
    steps: Annotated[list[StepModel], Field(min_length=1, max_length=20)] | None = None


class CampaignOutput(OutputModel):
    id: str
    name: str
    description: str | None
    status: str
    revision: int = Field(
        description="Goes up with every change of the steps; runs keep the one they entered with"
    )
    steps: list[StepModel]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOutput:
        return cls(
            id=campaign.campaign_id,
            name=campaign.name,
            description=campaign.description,
            status=campaign.status.value,
            revision=campaign.version,
            steps=[StepModel.of(s) for s in campaign.steps],
            version=campaign.record_version,
            created_at=campaign.created_at,
            updated_at=campaign.updated_at,
        )


class CampaignListQuery(ListQuery):
    status: Literal["active", "archived"] = "active"


class PreviewRequest(RequestModel):
    invoice_id: Annotated[str, Field(max_length=40)]
    step: int | None = Field(default=None, ge=0, description="One step (index); all when omitted")
    language: Language | None = Field(default=None, description="Default: the debtor's")


class RenderedStep(OutputModel):
    step: int
    channel: str
    template: str
    language: str
    subject: str | None
    body: str
    late_charges: dict[str, int | str] | None


class PreviewOutput(OutputModel):
    items: list[RenderedStep]


class CollectionActionRequest(RequestModel):
    action: Literal["start", "pause", "resume", "stop"]
    campaign_id: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="start: the campaign (default: the counterparty's or the segment's)"
    )
    note: Annotated[str, Field(max_length=500), FREE_TEXT] | None = None


class CollectionOutput(OutputModel):
    invoice_id: str
    campaign_id: str
    campaign_revision: int
    status: str
    next_step: int | None
    next_channel: str | None
    next_at: datetime | None
    pause_reason: str | None
    paused_until: datetime | None
    steps_done: list[int]
    entered_at: datetime
    steps: list[StepModel]

    @classmethod
    def of(cls, c: Collection) -> CollectionOutput:
        step = c.current_step
        return cls(
            invoice_id=c.invoice_id,
            campaign_id=c.campaign_id,
            campaign_revision=c.campaign_version,
            status=c.status.value,
            next_step=c.next_step if step else None,
            next_channel=step.channel.value if step else None,
            next_at=c.next_at,
            pause_reason=c.pause_reason.value if c.pause_reason else None,
            paused_until=c.paused_until,
            steps_done=list(c.steps_done),
            entered_at=c.entered_at,
            steps=[StepModel.of(s) for s in c.steps],
        )


class PromiseRequest(RequestModel):
    date: BusinessDate
    amount: MinorUnits = Field(gt=0)
    note: Annotated[str, Field(max_length=500), FREE_TEXT] | None = None


class PromiseOutput(OutputModel):
    id: str
    invoice_id: str
    date: date
    amount: int
    currency: str
    status: str
    created_at: datetime


class CollectionSettingsModel(RequestModel):
    default_campaign_id: Annotated[str, Field(max_length=40)] | None = None
    campaigns_by_segment: dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=40)]] = (
        Field(default_factory=dict)
    )
    default_assignee: Annotated[str, Field(max_length=254)] | None = None
    reference_rate_bp: int | None = Field(
        default=None, ge=-500, le=3000, description="Override of the ECB reference rate for late interest"
    )
    creditor_name: ShortText | None = None
    creditor_address: Annotated[list[ShortText], Field(max_length=4)] = Field(default_factory=list)
    creditor_iban: Annotated[str, Field(max_length=34)] | None = None
    creditor_email: Annotated[str, Field(max_length=254)] | None = None
    creditor_phone: Annotated[str, Field(max_length=30)] | None = None
    email_statements: bool = Field(default=False, description="E-mail the monthly statements of account")
    version: int = Field(default=0, ge=0)


class CounterpartyCampaignRequest(RequestModel):
    campaign_id: Annotated[str, Field(max_length=40)] | None


class TemplateRequest(RequestModel):
    name: TemplateName
    channel: MessageChannel
    language: Language
    subject: Annotated[str, Field(max_length=300)] | None = None
    body: Annotated[str, Field(min_length=1, max_length=20_000), FREE_TEXT] | None = None
    copy_of: TemplateName | None = Field(
        default=None, description="Start from this built-in (same channel and language); body optional then"
    )


class TemplateOutput(OutputModel):
    name: str
    channel: str
    language: str
    subject: str | None
    body: str
    builtin: bool


class TemplateList(OutputModel):
    items: list[TemplateOutput]


class LetterOutput(OutputModel):
    id: str
    invoice_id: str
    counterparty_id: str
    recipient_name: str
    address: list[str] | None
    status: str
    language: str
    size_bytes: int
    download_url: str | None
    created_at: datetime


class LetterQuery(ListQuery):
    status: Literal["ready", "printed", "mailed", "cancelled"] = "ready"


class LetterStatusRequest(RequestModel):
    status: Literal["printed", "mailed", "cancelled"]


class TaskOutput(OutputModel):
    id: str
    invoice_id: str
    counterparty_id: str
    counterparty_name: str
    phone: str | None
    assignee: str | None
    due_date: date
    script: str
    status: str
    outcome: str | None
    notes: str | None
    version: int
    created_at: datetime


class TaskQuery(ListQuery):
    status: Literal["open", "done", "cancelled"] = "open"
    assignee: Annotated[str, Field(max_length=254)] | None = None
    due_from: BusinessDate | None = None
    due_to: BusinessDate | None = None


TaskOutcome = Literal["reached", "no_answer", "wrong_number", "promised", "disputed", "paid_already", "other"]


class TaskUpdateRequest(RequestModel):
    version: int = Field(ge=1)
    status: Literal["open", "done", "cancelled"] | None = None
    outcome: TaskOutcome | None = None
    notes: Annotated[str, Field(max_length=2000), FREE_TEXT] | None = None
    assignee: Annotated[str, Field(max_length=254)] | None = None
    due_date: BusinessDate | None = None
    promise_date: BusinessDate | None = Field(
        default=None, description="With outcome `promised`: records the promise"
    )
    promise_amount: MinorUnits | None = Field(default=None, gt=0)


class MessageOutput(OutputModel):
    invoice_id: str
    key: str
    step: int
    channel: str
    status: str
    recipient: str | None
    subject: str | None
    body: str | None
    problem: str | None
    created_at: datetime


class MessageQuery(ListQuery):
    status: Literal["awaiting_approval", "sent", "failed", "bounced", "unknown"] = "awaiting_approval"


class TimelineEntryOutput(OutputModel):
    at: datetime
    invoice_id: str | None
    kind: str
    summary: str
    detail: dict[str, object] | None


class StepStats(OutputModel):
    step: int
    channel: str
    debtors: int = Field(description="Runs waiting at this step now")
    amount: int | None = Field(
        description="What they owed when they entered (one currency only; else by_currency)"
    )
    paid_after: int = Field(description="Runs paid in full after this step was the last to go out")
    average_days_to_pay: float | None


class CurrencyStats(OutputModel):
    currency: str
    entered: int
    entered_amount: int
    recovered_amount: int
    recovery_rate: float | None
    waiting_by_step: dict[str, int] = Field(
        description="step index -> amount owed at entry of the runs waiting there"
    )


class CampaignStats(OutputModel):
    campaign_id: str
    currency: str | None = Field(
        description="The runs' currency when they share one; amounts below are in it"
    )
    entered: int
    entered_amount: int | None
    recovered_amount: int | None
    recovery_rate: float | None = Field(description="Recovered over entered amount")
    completed_paid: int
    by_currency: list[CurrencyStats] = Field(
        description="Amounts per currency: never added across currencies"
    )
    steps: list[StepStats]
    messages: dict[str, dict[str, int]] = Field(description="channel -> outcome -> count")
