"""/v1/campaigns, /v1/collection-settings, /v1/reminder-templates, an invoice's collection and
promises, /v1/letters, /v1/tasks, /v1/collection-messages and a counterparty's timeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint
from pydantic import BaseModel

from cashline.domain.access import Role
from cashline.domain.collection_messages import CallTask, Letter, Message, TimelineEntry
from cashline.domain.dunning import Channel, CollectionSettings
from cashline.errors import NotFoundError
from cashline.schemas.common import ListQuery, OutputModel, PageOutput, page_output
from cashline.schemas.dunning import (
    CampaignListQuery,
    CampaignOutput,
    CampaignStats,
    CollectionActionRequest,
    CollectionOutput,
    CollectionSettingsModel,
    CounterpartyCampaignRequest,
    CreateCampaignRequest,
    LetterOutput,
    LetterQuery,
    LetterStatusRequest,
    MessageOutput,
    MessageQuery,
    PreviewOutput,
    PreviewRequest,
    PromiseOutput,
    PromiseRequest,
    RenderedStep,
    TaskOutput,
    TaskQuery,
    TaskUpdateRequest,
    TemplateList,
    TemplateOutput,
    TemplateRequest,
    TimelineEntryOutput,
    UpdateCampaignRequest,
)
from chalicelib.collection_runtime import api_collection_runtime
from chalicelib.http import Call, api_route
from chalicelib.invoice_routes import actor_of
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services import campaigns
    from cashline.services.collections import approvals, entry, promises, rendering, tasks
    from cashline.services.collections import stats as figures
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    campaigns = deferred("cashline.services.campaigns")
    approvals = deferred("cashline.services.collections.approvals")
    entry = deferred("cashline.services.collections.entry")
    promises = deferred("cashline.services.collections.promises")
    rendering = deferred("cashline.services.collections.rendering")
    tasks = deferred("cashline.services.collections.tasks")
    figures = deferred("cashline.services.collections.stats")

collection_api = Blueprint(__name__)
TAG = "collection"


Route = Callable[[Callable[..., Any]], Callable[..., Any]]


def _route(
    path: str, *, method: str, summary: str, response: type[BaseModel], role: Role, **more: Any
) -> Route:
    """A collection route (api_route on this blueprint, under this tag)."""
    return api_route(
        collection_api, path, method=method, summary=summary, response=response, role=role, tag=TAG, **more
    )


def _read(
    path: str, *, summary: str, response: type[BaseModel], query: type[BaseModel] | None = None
) -> Route:
    """A GET that any key of the tenant may read."""
    return _route(path, method="GET", summary=summary, response=response, role=Role.READ_ONLY, query=query)


class CounterpartyCampaignOutput(OutputModel):
    counterparty_id: str
    campaign_id: str | None


@_route(
    "/v1/campaigns",
    method="POST",
    summary="Create a collection campaign: ordered reminder steps over e-mail, SMS, letter and call tasks",
    request=CreateCampaignRequest,
    response=CampaignOutput,
    role=Role.ADMIN,
    status=201,
    idempotent=True,
)
def create_campaign(call: Call[CreateCampaignRequest, Any]) -> CampaignOutput:
    body = call.body
    campaign = campaigns.create_campaign(
        call.tenant_id,
        name=body.name,
        description=body.description,
        steps=tuple(s.to_step() for s in body.steps),
        now=call.now,
    )
    return CampaignOutput.of(campaign)


@_read(
    "/v1/campaigns",
    summary="Campaigns by name (active, or archived)",
    query=CampaignListQuery,
    response=PageOutput[CampaignOutput],
)
def list_campaigns(call: Call[Any, CampaignListQuery]) -> PageOutput[CampaignOutput]:
    q = call.query
    page = campaigns.list_campaigns(
        call.tenant_id, status=q.status, limit=q.limit, starting_after=q.starting_after
    )
    return page_output(page, CampaignOutput.of)


@_read(
    "/v1/campaigns/{campaign_id}",
    summary="One campaign",
    response=CampaignOutput,
)
def get_campaign(call: Call[Any, Any]) -> CampaignOutput:
    return CampaignOutput.of(campaigns.get_campaign(call.tenant_id, call.path["campaign_id"]))


@_route(
    "/v1/campaigns/{campaign_id}",
    method="PATCH",
    summary="Change a campaign (send the version you read); new steps are a new revision for new runs",
    request=UpdateCampaignRequest,
    response=CampaignOutput,
    role=Role.ADMIN,
)
def update_campaign(call: Call[UpdateCampaignRequest, Any]) -> CampaignOutput:
    body = call.body
    campaign = campaigns.update_campaign(
        call.tenant_id,
        call.path["campaign_id"],
        expected_version=body.version,
        name=body.name,
        description=body.description,
        steps=tuple(s.to_step() for s in body.steps) if body.steps is not None else None,
        now=call.now,
    )
    return CampaignOutput.of(campaign)


@_route(
    "/v1/campaigns/{campaign_id}/archive",
    method="POST",
    summary="Archive a campaign: no new runs enter it; runs under way finish",
    response=CampaignOutput,
    role=Role.ADMIN,
)
def archive_campaign(call: Call[Any, Any]) -> CampaignOutput:
    return CampaignOutput.of(
        campaigns.archive_campaign(call.tenant_id, call.path["campaign_id"], now=call.now)
    )


@_route(
    "/v1/campaigns/{campaign_id}/preview",
    method="POST",
    summary="Render a campaign's reminders for an invoice, as the debtor would get them",
    request=PreviewRequest,
    response=PreviewOutput,
    role=Role.READ_ONLY,
)
def preview(call: Call[PreviewRequest, Any]) -> PreviewOutput:
    rendered = rendering.preview(
        call.tenant_id,
        call.path["campaign_id"],
        call.body.invoice_id,
        step=call.body.step,
        language=call.body.language,
        now=call.now,
    )
    return PreviewOutput(items=[RenderedStep(**r) for r in rendered])


@_read(
    "/v1/campaigns/{campaign_id}/stats",
    summary="Debtors and amount at each step, recovered amount and rate, days to pay, messages by outcome",
    response=CampaignStats,
)
def stats(call: Call[Any, Any]) -> CampaignStats:
    return CampaignStats(**figures.campaign_stats(call.tenant_id, call.path["campaign_id"]))


def _settings_model(s: CollectionSettings) -> CollectionSettingsModel:
    creditor = s.creditor
    return CollectionSettingsModel.model_construct(
        default_campaign_id=s.default_campaign_id,
        campaigns_by_segment=s.campaigns_by_segment,
        default_assignee=s.default_assignee,
        reference_rate_bp=s.reference_rate_bp,
        creditor_name=creditor.get("name"),
        creditor_address=list(creditor.get("address") or []),
        creditor_iban=creditor.get("iban"),
        creditor_email=creditor.get("email"),
        creditor_phone=creditor.get("phone"),
        email_statements=s.email_statements,
        version=s.version,
    )


@_read(
    "/v1/collection-settings",
    summary="Default campaigns (overall and per segment), call assignee, creditor details, interest rate",
    response=CollectionSettingsModel,
)
def get_settings(call: Call[Any, Any]) -> CollectionSettingsModel:
    return _settings_model(campaigns.settings(call.tenant_id))


@_route(
    "/v1/collection-settings",
    method="PUT",
    summary="Set the collection settings (send the version you read; 0 the first time)",
    request=CollectionSettingsModel,
    response=CollectionSettingsModel,
    role=Role.ADMIN,
)
def put_settings(call: Call[CollectionSettingsModel, Any]) -> CollectionSettingsModel:
    b = call.body
    creditor = {
        k: v
        for k, v in {
            "name": b.creditor_name,
            "address": b.creditor_address or None,
            "iban": b.creditor_iban,
            "email": b.creditor_email,
            "phone": b.creditor_phone,
        }.items()
        if v
    }
    wanted = CollectionSettings(
        default_campaign_id=b.default_campaign_id,
        campaigns_by_segment=dict(b.campaigns_by_segment),
        default_assignee=b.default_assignee,
        reference_rate_bp=b.reference_rate_bp,
        creditor=creditor,
        email_statements=b.email_statements,
        version=b.version,
    )
    return _settings_model(campaigns.save_settings(call.tenant_id, wanted, now=call.now))


@_route(
    "/v1/counterparties/{counterparty_id}/campaign",
    method="PUT",
    summary="The campaign this counterparty's overdue invoices enter (null: the segment's or default)",
    request=CounterpartyCampaignRequest,
    response=CounterpartyCampaignOutput,
    role=Role.ADMIN,
)
def assign_campaign(call: Call[CounterpartyCampaignRequest, Any]) -> CounterpartyCampaignOutput:
    counterparty_id = call.path["counterparty_id"]
    chosen = campaigns.assign(call.tenant_id, counterparty_id, call.body.campaign_id, now=call.now)
    return CounterpartyCampaignOutput(counterparty_id=counterparty_id, campaign_id=chosen)


@_read(
    "/v1/counterparties/{counterparty_id}/timeline",
    summary="Every reminder, outcome, promise and collection change for this counterparty, newest first",
    query=ListQuery,
    response=PageOutput[TimelineEntryOutput],
)
def timeline(call: Call[Any, ListQuery]) -> PageOutput[TimelineEntryOutput]:
    page = figures.timeline(
        call.tenant_id,
        call.path["counterparty_id"],
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, _timeline_entry)


def _timeline_entry(e: TimelineEntry) -> TimelineEntryOutput:
    return TimelineEntryOutput(
        at=e.at, invoice_id=e.invoice_id, kind=e.kind, summary=e.summary, detail=e.detail
    )


@_read(
    "/v1/reminder-templates",
    summary="The built-in reminder templates (English, German) and the tenant's own",
    response=TemplateList,
)
def list_templates(call: Call[Any, Any]) -> TemplateList:
    return TemplateList(
        items=[
            TemplateOutput(
                name=t.name,
                channel=t.channel,
                language=t.language,
                subject=t.subject,
                body=t.body,
                builtin=t.builtin,
            )
            for t in campaigns.list_templates(call.tenant_id)
        ]
    )


@_route(
    "/v1/reminder-templates",
    method="POST",
    summary="Save one of the tenant's templates (Jinja2, sandboxed), e.g. a copy of a built-in, edited",
    request=TemplateRequest,
    response=TemplateOutput,
    role=Role.ADMIN,
)
def save_template(call: Call[TemplateRequest, Any]) -> TemplateOutput:
    b = call.body
    t = campaigns.save_template(
        call.tenant_id,
        name=b.name,
        channel=b.channel,
        language=b.language,
        subject=b.subject,
        body=b.body,
        copy_of=b.copy_of,
        now=call.now,
    )
    return TemplateOutput(
        name=t.name, channel=t.channel, language=t.language, subject=t.subject, body=t.body, builtin=False
    )


@_route(
    "/v1/invoices/{invoice_id}/collection",
    method="POST",
    summary="Start (also before the due date), pause, resume or stop an invoice's collection campaign",
    request=CollectionActionRequest,
    response=CollectionOutput,
    role=Role.FINANCE,
)
def collection_action(call: Call[CollectionActionRequest, Any]) -> CollectionOutput:
    run = entry.act(
        call.tenant_id,
        call.path["invoice_id"],
        call.body.action,
        campaign_id=call.body.campaign_id,
        actor=actor_of(call),
        note=call.body.note,
        now=call.now,
    )
    return CollectionOutput.of(run)


@_read(
    "/v1/invoices/{invoice_id}/collection",
    summary="An invoice's collection run: campaign revision, next step and when, steps done",
    response=CollectionOutput,
)
def get_collection(call: Call[Any, Any]) -> CollectionOutput:
    return CollectionOutput.of(entry.collection_of(call.tenant_id, call.path["invoice_id"]))


@_route(
    "/v1/invoices/{invoice_id}/promises",
    method="POST",
    summary="Record the debtor's promise to pay: reminders pause until the day after; broken, they resume",
    request=PromiseRequest,
    response=PromiseOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
)
def create_promise(call: Call[PromiseRequest, Any]) -> PromiseOutput:
    made = promises.promise(
        call.tenant_id,
        call.path["invoice_id"],
        on=call.body.date,
        amount=call.body.amount,
        actor=actor_of(call),
        note=call.body.note,
        now=call.now,
    )
    return PromiseOutput(
        id=made.promise_id,
        invoice_id=made.invoice_id,
        date=made.promised_date,
        amount=made.amount,
        currency=made.currency,
        status=made.status,
        created_at=made.created_at,
    )


def _message(m: Message) -> MessageOutput:
    return MessageOutput(
        invoice_id=m.invoice_id,
        key=m.key,
        step=m.step_index,
        channel=m.channel.value,
        status=m.status,
        recipient=m.recipient,
        subject=m.subject,
        body=m.body,
        problem=m.problem,
        created_at=m.created_at,
    )


@_read(
    "/v1/collection-messages",
    summary="Reminders by status: those awaiting a person's approval, sent, failed, bounced",
    query=MessageQuery,
    response=PageOutput[MessageOutput],
)
def list_messages(call: Call[Any, MessageQuery]) -> PageOutput[MessageOutput]:
    q = call.query
    page = approvals.messages_by_status(
        call.tenant_id, q.status, limit=q.limit, starting_after=q.starting_after
    )
    return page_output(page, _message)


def _decide(approve: bool) -> Any:
    def decide(call: Call[Any, Any]) -> MessageOutput:
        step = call.path["step"]
        if not step.isdigit():
            raise NotFoundError("no such step", field="step")
        message = approvals.decide(
            call.tenant_id,
            call.path["invoice_id"],
            int(step),
            approve=approve,
            actor=actor_of(call),
            runtime=api_collection_runtime(),
            now=call.now,
        )
        return _message(message)

    return decide


for _verb, _approve in (("approve", True), ("reject", False)):
    _route(
        f"/v1/invoices/{{invoice_id}}/collection/steps/{{step}}/{_verb}",
        method="POST",
        summary=f"{_verb.capitalize()} a reminder that waits for a person's approval",
        response=MessageOutput,
        role=Role.FINANCE,
    )(_decide(_approve))


def _letter(letter: Letter, *, with_url: bool) -> LetterOutput:
    return LetterOutput(
        id=letter.letter_id,
        invoice_id=letter.invoice_id,
        counterparty_id=letter.counterparty_id,
        recipient_name=letter.recipient_name,
        address=list(letter.address),
        status=letter.status,
        language=letter.language,
        size_bytes=letter.size_bytes,
        download_url=tasks.letter_download_url(letter, api_collection_runtime()) if with_url else None,
        created_at=letter.created_at,
    )


def _letter_with_url(letter: Letter) -> LetterOutput:
    return _letter(letter, with_url=True)


@_read(
    "/v1/letters",
    summary="The print queue: letters by status, with short-lived PDF download links",
    query=LetterQuery,
    response=PageOutput[LetterOutput],
)
def list_letters(call: Call[Any, LetterQuery]) -> PageOutput[LetterOutput]:
    q = call.query
    page = tasks.list_letters(call.tenant_id, q.status, limit=q.limit, starting_after=q.starting_after)
    return page_output(page, _letter_with_url)


@_read(
    "/v1/letters/{letter_id}",
    summary="One letter, with a short-lived PDF download link",
    response=LetterOutput,
)
def get_letter(call: Call[Any, Any]) -> LetterOutput:
    return _letter_with_url(tasks.letter_of(call.tenant_id, call.path["letter_id"]))


@_route(
    "/v1/letters/{letter_id}/status",
    method="POST",
    summary="Mark a letter printed, mailed or cancelled",
    request=LetterStatusRequest,
    response=LetterOutput,
    role=Role.FINANCE,
)
def letter_status(call: Call[LetterStatusRequest, Any]) -> LetterOutput:
    letter = tasks.set_letter_status(
        call.tenant_id, call.path["letter_id"], call.body.status, actor=actor_of(call), now=call.now
    )
    return _letter(letter, with_url=False)


def _task(t: CallTask) -> TaskOutput:
    return TaskOutput(
        id=t.task_id,
        invoice_id=t.invoice_id,
        counterparty_id=t.counterparty_id,
        counterparty_name=t.counterparty_name,
        phone=t.phone,
        assignee=t.assignee,
        due_date=t.due_date,
        script=t.script,
        status=t.status,
        outcome=t.outcome,
        notes=t.notes,
        version=t.version,
        created_at=t.created_at,
    )


@_read(
    "/v1/tasks",
    summary="Call tasks by status, assignee and due date (today's: due_from=due_to=today)",
    query=TaskQuery,
    response=PageOutput[TaskOutput],
)
def list_tasks(call: Call[Any, TaskQuery]) -> PageOutput[TaskOutput]:
    q = call.query
    page = tasks.list_tasks(
        call.tenant_id,
        status=q.status,
        assignee=q.assignee,
        due_from=q.due_from,
        due_to=q.due_to,
        limit=q.limit,
        starting_after=q.starting_after,
    )
    return page_output(page, _task)


@_read(
    "/v1/tasks/{task_id}",
    summary="One call task with its script",
    response=TaskOutput,
)
def get_task(call: Call[Any, Any]) -> TaskOutput:
    return _task(tasks.task_of(call.tenant_id, call.path["task_id"]))


@_route(
    "/v1/tasks/{task_id}",
    method="PATCH",
    summary="Record a call's outcome (a promise with its date and amount), reassign or move a task",
    request=TaskUpdateRequest,
    response=TaskOutput,
    role=Role.FINANCE,
)
def update_task(call: Call[TaskUpdateRequest, Any]) -> TaskOutput:
    changes = call.body.model_dump(exclude_unset=True, exclude={"version"})
    task = tasks.update_task(
        call.tenant_id,
        call.path["task_id"],
        expected_version=call.body.version,
        changes=changes,
        actor=actor_of(call),
        now=call.now,
    )
    return _task(task)


_ = Channel  # the schemas name channels; imported here for the OpenAPI document's enums
