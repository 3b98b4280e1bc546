"""Collection campaign figures: the reminder sweep as collections grow, messages prepared per second,
and what one sent reminder costs in DynamoDB calls and write capacity.

The sweep's data is written straight to the table (PynamoDB BatchWrite, 25 items a call): N active
collections of one campaign, `due` of them due at the tick and the rest 30 days later, with the invoice
headers and counterparty profiles the due ones need. The sizes run on consecutive weekdays of 2050
(far after any other section's ticks), so the `collection_steps` cursor is never behind and the later
collections of one size are never due in another's tick.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from botocore.client import BaseClient
from pynamodb.models import BatchWrite

from bench.dynamodb_meter import metered
from cashline.adapters.pdf_documents import letter_pdf
from cashline.dal.collection_writes import collection_record
from cashline.dal.dunning_records import CollectionRecord
from cashline.dal.invoice_repository import header_record
from cashline.dal.party_repository import profile_record
from cashline.domain import dunning as runs
from cashline.domain import reminder_templates as templates
from cashline.domain.access import today_for
from cashline.domain.counterparties import Counterparty, address_lines
from cashline.domain.dunning import Campaign, Channel, Collection, Step
from cashline.domain.invoices import Direction, DocumentKind, Invoice, InvoiceStatus
from cashline.ids import new_id
from cashline.services import campaigns
from cashline.services.collections import rendering
from cashline.services.collections.context import parties
from cashline.services.collections.debtors import debtor_locale
from cashline.services.tenancy import tenants
from localcloud.gateway import ApiGateway
from localcloud.handlers import fire_schedule
from tests.utils import TestTenant, make_tenant

SCHEDULE = "collection_steps"
BERLIN = ZoneInfo("Europe/Berlin")
# Monday 3 January 2050, 10:00 in Berlin (the debtors' zone): inside the send window. Size k sweeps
# k days later (Tuesday, Wednesday, ...); the campaign's second step is 13 days after the first, so
# no run of an earlier size falls due again in a later size's tick.
FIRST_TICK = datetime(2050, 1, 3, 10, 0, tzinfo=BERLIN)
CAMPAIGN = {
    "name": "Bench: e-mail, then a letter",
    "steps": [
        {"offset_days": 1, "channel": "email", "template": "first_reminder", "late_charges": True},
        {"offset_days": 14, "channel": "letter", "template": "second_reminder", "late_charges": True},
    ],
}
_CAPACITY_OPERATIONS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


# ---------------------------------------------------------------------------------------------
# Calls and capacity by kind of call: the due-index Query apart from the others, a transaction by
# its number of items (the message marker is one item, the step's final transaction several)


@dataclass
class CallTally:
    calls: Counter[str] = field(default_factory=Counter)
    read_units: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    write_units: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def _kind(operation: str, params: dict[str, Any]) -> str:
    if operation in {"Query", "Scan"} and params.get("IndexName"):
        return f"{operation} on {params['IndexName']}"
    if operation == "Query":
        return "Query on the table"
    if operation == "TransactWriteItems":
        return f"TransactWriteItems of {len(params.get('TransactItems', []))}"
    return operation


@contextmanager
def _tally() -> Iterator[CallTally]:
    """Within `metered()`: every DynamoDB call, keyed by `_kind`, with the capacity it consumed."""
    tally = CallTally()
    previous = getattr(BaseClient, "_make_api_call")  # noqa: B009

    def call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name != "dynamodb":
            return previous(self, operation_name, api_params)
        if operation_name in _CAPACITY_OPERATIONS:
            api_params = {**api_params, "ReturnConsumedCapacity": "TOTAL"}
        kind = _kind(operation_name, api_params)
        started = time.perf_counter()
        try:
            response = previous(self, operation_name, api_params)
        finally:
            tally.calls[kind] += 1
            tally.seconds[kind] += time.perf_counter() - started
        consumed = response.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            if entry:
                units = tally.read_units if operation_name in _READS else tally.write_units
                units[kind] += float(entry.get("CapacityUnits", 0))
        return response

    setattr(BaseClient, "_make_api_call", call)  # noqa: B010
    try:
        yield tally
    finally:
        setattr(BaseClient, "_make_api_call", previous)  # noqa: B010


# ---------------------------------------------------------------------------------------------
# Setting up: a tenant and its campaign through the API, the rest straight into the table


def _api(gateway: ApiGateway, method: str, path: str, key: str, body: dict[str, Any] | None = None) -> Any:
    response = gateway.call(
        method,
        path,
        headers={"authorization": f"Bearer {key}"},
        body=None if body is None else json.dumps(body).encode(),
    )
    if response.status_code not in {200, 201}:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.body[:300]!r}")
    return response.json()


def _tenant_with_campaign(gateway: ApiGateway, name: str) -> tuple[TestTenant, Campaign]:
    tenant = make_tenant(name)
    created = _api(gateway, "POST", "/v1/campaigns", tenant.admin, CAMPAIGN)
    current = _api(gateway, "GET", "/v1/collection-settings", tenant.read_only)
    _api(
        gateway,
        "PUT",
        "/v1/collection-settings",
        tenant.admin,
        {
            **current,
            "default_campaign_id": created["id"],
            "creditor_name": "Nordlicht Maschinenbau GmbH",
            "creditor_iban": "DE89370400440532013000",
            "creditor_email": "buchhaltung@nordlicht.example",
            # The ECB table stops before 2050: the tenant's own rate, as a tenant would set one.
            "reference_rate_bp": 215,
        },
    )
    return tenant, campaigns.get_campaign(tenant.tenant_id, created["id"])


@dataclass(frozen=True)
class Sample:
    """One due run with its invoice, for timing `prepare` on real stored data."""

    collection: Collection
    invoice: Invoice


SEED_THREADS = 4  # DynamoDB Local takes batches from several connections at once


def _in_parallel(count: int, write: Any) -> None:
    """`write(first, n)` over `count` items in SEED_THREADS slices, each with its own BatchWrite."""
    step = -(-count // SEED_THREADS) if count else 0
    slices = [(first, min(step, count - first)) for first in range(0, count, step)] if step else []
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        for done in [pool.submit(write, first, n) for first, n in slices]:
            done.result()


def _base_run(tenant_id: str, campaign: Campaign, tick: datetime) -> Collection:
    """A run of an invoice due yesterday, entered yesterday: its first step (the e-mail) is due today."""
    return runs.start(
        tenant_id=tenant_id,
        invoice_id="",
        counterparty_id="",
        campaign=campaign,
        due_date=tick.date() - timedelta(days=1),
        outstanding=0,
        amount_paid=0,
        currency="EUR",
        timezone="Europe/Berlin",
        now=tick - timedelta(days=1),
    )


def _seed_due(tenant_id: str, campaign: Campaign, count: int, tick: datetime) -> Sample:
    """`count` runs due at `tick`, each with its invoice (overdue since yesterday) and its debtor."""
    now = datetime.now(UTC)
    base = _base_run(tenant_id, campaign, tick)
    due_date = base.entered_at.date()
    samples: list[Sample] = []

    def write(first: int, n: int) -> None:
        with BatchWrite(CollectionRecord) as batch:
            for index in range(first, first + n):
                counterparty = Counterparty(
                    tenant_id=tenant_id,
                    counterparty_id=new_id("counterparty"),
                    name=f"Müller & Söhne {index:05d}",
                    email=f"ap-{index:05d}@mueller.example",
                    phone="+49 170 1234567",
                    address={
                        "line1": "Hauptstraße 1",
                        "postal_code": "10115",
                        "city": "Berlin",
                        "country": "DE",
                    },
                    country="DE",
                    preferred_language="de",
                    segment=None,
                    tax_id=None,
                    iban=None,
                    external_reference=None,
                    metadata={},
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
                profile = profile_record(counterparty)
                profile.version = 1
                batch.save(profile)
                amount = 1_234_56 + index
                invoice = Invoice(
                    tenant_id=tenant_id,
                    invoice_id=new_id("invoice"),
                    direction=Direction.RECEIVABLE,
                    document_kind=DocumentKind.INVOICE,
                    number=f"RE-{tick:%y%m%d}-{index:05d}",
                    counterparty_id=counterparty.counterparty_id,
                    counterparty_name=counterparty.name,
                    segment=None,
                    issue_date=due_date - timedelta(days=30),
                    due_date=due_date,
                    currency="EUR",
                    subtotal=amount,
                    tax=0,
                    amount_due=amount,
                    amount_paid=0,
                    status=InvoiceStatus.OVERDUE,
                    status_before_dispute=None,
                    description="Wartung",
                    source="api",
                    metadata={},
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
                header = header_record(invoice, None)
                header.version = 1
                batch.save(header)
                run = replace(
                    base,
                    invoice_id=invoice.invoice_id,
                    counterparty_id=counterparty.counterparty_id,
                    outstanding_at_entry=amount,
                    next_at=tick,
                    version=1,
                )
                record = collection_record(run)
                record.version = 1
                batch.save(record)
                if index == 0:
                    samples.append(Sample(run, invoice))

    _in_parallel(count, write)
    return samples[0]


def _seed_later(tenant_id: str, campaign: Campaign, count: int, tick: datetime) -> None:
    """`count` runs whose e-mail is due 30 days after `tick` (their invoices are not read: not written)."""
    base = _base_run(tenant_id, campaign, tick)

    def write(first: int, n: int) -> None:
        with BatchWrite(CollectionRecord) as batch:
            for index in range(first, first + n):
                run = replace(
                    base,
                    invoice_id=new_id("invoice"),
                    counterparty_id=new_id("counterparty"),
                    outstanding_at_entry=10_000 + index,
                    next_at=tick + timedelta(days=30),
                    version=1,
                )
                record = collection_record(run)
                record.version = 1
                batch.save(record)

    _in_parallel(count, write)


# ---------------------------------------------------------------------------------------------
# Figure 1: one sweep as the collections grow


@dataclass(frozen=True)
class SweepFigure:
    collections: int  # active runs of the tenant when the tick fires
    due: int
    seeded: int  # items written for this row (runs, and the due ones' invoices and debtors)
    seed_seconds: float
    sent: int
    outbox_files: int
    items_read: int
    calls: int
    operations: str
    tally: CallTally
    read_units: float
    write_units: float
    seconds: float

    @property
    def queries(self) -> int:
        return sum(n for kind, n in self.tally.calls.items() if kind.startswith("Query"))

    @property
    def due_queries(self) -> int:
        return self.tally.calls["Query on due"]

    @property
    def due_read_units(self) -> float:
        return self.tally.read_units["Query on due"]

    @property
    def messages_per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


@contextmanager
def _outbox_in(folder: Path) -> Iterator[None]:
    """The channels write what they send under `folder`, not into the local cloud's outbox."""
    before = os.environ.get("CASHLINE_OUTBOX_DIR")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CASHLINE_OUTBOX_DIR", None)
        else:
            os.environ["CASHLINE_OUTBOX_DIR"] = before
        _rebuild_runtime()


def _send_to(outbox: Path) -> None:
    os.environ["CASHLINE_OUTBOX_DIR"] = str(outbox)
    _rebuild_runtime()


def _rebuild_runtime() -> None:
    """Settings are read again and the scheduler's channels built again (both are cached)."""
    from chalicelib.collection_runtime import scheduler_collection_runtime
    from chalicelib.runtime import reset

    reset()
    scheduler_collection_runtime.cache_clear()


def measure_sweeps(
    app: Any, gateway: ApiGateway, sizes: list[int], due: int
) -> tuple[list[SweepFigure], Sample]:
    """One tenant, one campaign; before each tick the tenant is grown to `size` active runs, `due` of
    them due at the tick (the runs of earlier rows stay: their e-mail went out, the letter is 13 days on)."""
    figures: list[SweepFigure] = []
    samples: list[Sample] = []
    tenant, campaign = _tenant_with_campaign(gateway, "Collections bench")
    active = 0
    with tempfile.TemporaryDirectory(prefix="cashline-bench-outbox-") as folder, _outbox_in(Path(folder)):
        for offset, size in enumerate(sizes):
            tick = FIRST_TICK + timedelta(days=offset)
            fire_schedule(app, SCHEDULE, tick - timedelta(hours=1))  # the cursor: last hour swept
            later = max(0, size - active - due)
            started = time.perf_counter()
            samples.append(_seed_due(tenant.tenant_id, campaign, due, tick))
            _seed_later(tenant.tenant_id, campaign, later, tick)
            seed_seconds = time.perf_counter() - started
            active += due + later
            outbox = Path(folder) / str(offset)
            _send_to(outbox)
            started = time.perf_counter()
            with metered() as meter, _tally() as tally:
                result = fire_schedule(app, SCHEDULE, tick)
            seconds = time.perf_counter() - started
            figures.append(
                SweepFigure(
                    collections=active,
                    due=due,
                    seeded=3 * due + later,
                    seed_seconds=seed_seconds,
                    sent=int(result["sent"]),
                    outbox_files=len(list(outbox.glob("*.json"))),
                    items_read=int(result["items_read"]),
                    calls=meter.total_calls,
                    operations=meter.describe(),
                    tally=tally,
                    read_units=meter.read_units,
                    write_units=meter.write_units,
                    seconds=seconds,
                )
            )
    return figures, samples[0]


# ---------------------------------------------------------------------------------------------
# Figure 2: messages prepared per second, and letter PDFs per second


STEPS = {
    Channel.EMAIL: Step(offset_days=1, channel=Channel.EMAIL, template="first_reminder", late_charges=True),
    Channel.SMS: Step(offset_days=3, channel=Channel.SMS, template="first_reminder"),
    Channel.LETTER: Step(
        offset_days=7, channel=Channel.LETTER, template="second_reminder", late_charges=True
    ),
}


@dataclass(frozen=True)
class PrepareFigure:
    channel: str
    template: str
    language: str
    count: int
    seconds: float
    calls_each: float
    render_seconds: float  # the same messages with the reads done once: context, charges, render

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def render_per_second(self) -> float:
        return self.count / self.render_seconds


@dataclass(frozen=True)
class PdfFigure:
    count: int
    seconds: float
    size_bytes: int

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def measure_prepare(sample: Sample, count: int) -> list[PrepareFigure]:
    c, invoice = sample.collection, sample.invoice
    now = FIRST_TICK + timedelta(days=2)  # two days after the due date: late charges apply
    figures = []
    for index, (channel, step) in enumerate(STEPS.items()):
        rendering.prepare(c, invoice, step, index, channel, now)  # warm: compiled template, locale
        started = time.perf_counter()
        with metered() as meter:
            for _ in range(count):
                prepared = rendering.prepare(c, invoice, step, index, channel, now)
        seconds = time.perf_counter() - started
        # The in-process part alone: what `prepare` does after its reads (tenant, debtor, settings,
        # template), done once here.
        tenant = tenants.get(c.tenant_id)
        counterparty = parties.get_profile(c.tenant_id, invoice.counterparty_id)
        config = campaigns.settings(c.tenant_id)
        language, locale = debtor_locale(counterparty, tenant)
        template = campaigns.template_for(c.tenant_id, step.template, channel, language)
        today = today_for(tenant, now)
        started = time.perf_counter()
        for _ in range(count):
            charges = rendering.late_charges_on(invoice, today, config) if step.late_charges else None
            context = rendering.reminder_context(
                tenant, config, counterparty, invoice, charges, index, channel, today, locale
            )
            templates.render(template, context, locale)
        render_seconds = time.perf_counter() - started
        figures.append(
            PrepareFigure(
                channel=channel.value,
                template=prepared.template,
                language=prepared.language,
                count=count,
                seconds=seconds,
                calls_each=meter.total_calls / count,
                render_seconds=render_seconds,
            )
        )
    return figures


def measure_letter_pdf(sample: Sample, count: int) -> PdfFigure:
    c, invoice = sample.collection, sample.invoice
    now = FIRST_TICK + timedelta(days=2)
    prepared = rendering.prepare(c, invoice, STEPS[Channel.LETTER], 2, Channel.LETTER, now)
    creditor = {
        "name": "Nordlicht Maschinenbau GmbH",
        "iban": "DE89370400440532013000",
        "email": "buchhaltung@nordlicht.example",
    }
    debtor = {
        "name": prepared.counterparty.name,
        "address": address_lines(prepared.counterparty),
    }

    def one() -> bytes:
        return letter_pdf(
            creditor=creditor,
            debtor=debtor,
            date_text="5. Januar 2050",
            subject=prepared.subject or invoice.number,
            body=prepared.body,
            footer=" · ".join(creditor.values()),
        )

    size = len(one())  # warm: fonts
    started = time.perf_counter()
    for _ in range(count):
        one()
    return PdfFigure(count, time.perf_counter() - started, size)


@dataclass(frozen=True)
class CollectionFigures:
    sweeps: list[SweepFigure]
    prepares: list[PrepareFigure]
    pdf: PdfFigure


def measure_collections(
    app: Any, gateway: ApiGateway, sizes: list[int], due: int, prepares: int, pdfs: int
) -> CollectionFigures:
    sweeps, sample = measure_sweeps(app, gateway, sizes, due)
    return CollectionFigures(sweeps, measure_prepare(sample, prepares), measure_letter_pdf(sample, pdfs))


# ---------------------------------------------------------------------------------------------
# Figure 3: one sent reminder's calls and capacity, and the notes under the tables


WHAT = {
    "UpdateItem": "the lease: the run's `due` key moved 10 minutes on, on the version read",
    "Query on the table": "the invoice's run, messages and promises: `sk >= COLL` on the invoice's "
    "partition, consistent (here the seeded header too; a real invoice's body and audit events as well)",
    "GetItem": "invoice header, tenant, debtor, collection settings, the tenant's own template in the "
    "debtor's language then in English (6 a reminder); the schedule's cursor (read twice a tick)",
    "TransactWriteItems of 1": "the message marker (`sending`), put only if absent, before the e-mail leaves",
    "TransactWriteItems of 8": "the outcome: run (next step, new `due` key), message (`sent`), provider-id "
    "lookup, audit event, timeline entry, 3 campaign figures (sent by e-mail, step 1 -1, step 2 +1)",
    "Query on due": "the sweep's read of what is due: the tick's day, one Query per shard (once a tick)",
    "PutItem": "the tick's claim and the cursor (once a tick)",
}


@dataclass(frozen=True)
class ReminderCost:
    kind: str
    what: str
    calls: float
    read_units: float
    write_units: float
    ms_per_call: float


def per_reminder(figure: SweepFigure) -> list[ReminderCost]:
    """The sweep's calls and capacity divided by the reminders it sent, by kind of call."""
    t, sent = figure.tally, max(figure.sent, 1)
    order = sorted(t.calls, key=lambda k: (-t.calls[k], k))
    return [
        ReminderCost(
            kind,
            WHAT.get(kind, ""),
            t.calls[kind] / sent,
            t.read_units[kind] / sent,
            t.write_units[kind] / sent,
            t.seconds[kind] * 1000 / t.calls[kind],
        )
        for kind in order
    ]


def sweep_notes(figures: list[SweepFigure]) -> list[str]:
    first, last = figures[0], figures[-1]
    notes = [
        f"The reads do not grow with the collections: from {first.collections:,} to {last.collections:,} "
        f"active runs the tick makes {first.due_queries} and {last.due_queries} Queries on the `due` index "
        f"(one per shard of the tick's day), reads {first.items_read:,} and {last.items_read:,} items from "
        f"it ({first.due_read_units:g} and {last.due_read_units:g} RCU): only the due runs. The runs due "
        "later sit in other days' partitions, which the tick never reads. All other calls are per due run.",
    ]
    if any(f.sent != f.outbox_files for f in figures):
        notes.append(
            "Sent and outbox files differ: "
            + ", ".join(f"{f.sent} sent / {f.outbox_files} files" for f in figures)
            + "."
        )
    dynamodb, sent = sum(last.tally.seconds.values()), max(last.sent, 1)
    notes.append(
        f"Of the {last.seconds:.1f} s of the last tick, {dynamodb:.1f} s are DynamoDB Local calls "
        f"({dynamodb * 1000 / sent:.0f} ms a reminder, in {last.calls / sent:.0f} calls); the rest is this "
        "one Python process: rendering, moto's SES (in process) and the outbox file."
    )
    return notes
