"""Issue 3 figures: e-invoice imports per invoice, and one filtered page as the tenant grows."""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pynamodb.models import BatchWrite

from bench.dynamodb_meter import metered
from cashline.dal.invoice_records import InvoiceRecord
from cashline.dal.invoice_repository import header_record
from cashline.domain.invoices import Direction, DocumentKind, Invoice, InvoiceStatus
from cashline.ids import new_id
from localcloud.gateway import ApiGateway
from localcloud.paths import ROOT
from tests.utils import make_tenant

CORPUS = ROOT.parent / "shared" / "corpus" / "einvoice"


@dataclass(frozen=True)
class ImportFigure:
    invoices: int
    seconds: float
    calls_per_invoice: float
    read_units_per_invoice: float
    write_units_per_invoice: float


def _variants() -> list[tuple[bytes, str]]:
    """XML samples whose invoice number can be made unique by rewriting its first ID element."""
    files = sorted((CORPUS / "ubl").glob("*.xml")) + sorted((CORPUS / "cii").glob("*.xml"))
    return [(path.read_bytes(), "application/xml") for path in files]


_UBL_ID = re.compile(rb"(<cbc:ID>)([^<]+)(</cbc:ID>)")
_CII_ID = re.compile(rb"(<rsm:ExchangedDocument>\s*<ram:ID>)([^<]+)(</ram:ID>)")


def _unique(data: bytes, suffix: str) -> bytes:
    pattern = _UBL_ID if _UBL_ID.search(data) else _CII_ID
    return pattern.sub(lambda m: m.group(1) + m.group(2) + suffix.encode() + m.group(3), data, count=1)


def measure_imports(gateway: ApiGateway, count: int) -> ImportFigure:
    tenant = make_tenant("Import bench")
    headers = {"authorization": f"Bearer {tenant.finance}", "content-type": "application/xml"}
    samples = _variants()
    started = time.perf_counter()
    with metered() as meter:
        for index in range(count):
            data, _ = samples[index % len(samples)]
            response = gateway.call(
                "POST",
                "/v1/invoices/import?direction=payable",
                headers=headers,
                body=_unique(data, f"-B{index}"),
            )
            if response.status_code != 201:
                raise RuntimeError(f"import {index} failed: {response.status_code} {response.body[:300]!r}")
    seconds = time.perf_counter() - started
    return ImportFigure(
        count, seconds, meter.total_calls / count, meter.read_units / count, meter.write_units / count
    )


STATUSES = (
    [InvoiceStatus.OPEN] * 5
    + [InvoiceStatus.OVERDUE] * 2
    + [InvoiceStatus.PAID] * 3
    + [InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.DISPUTED, InvoiceStatus.VOID]
)
CURRENCIES = ["EUR"] * 6 + ["USD", "GBP", "CHF", "JPY"]
SEGMENTS = ["smb", "enterprise", "public", "supplier"]


def seed_invoices(tenant_id: str, count: int, seed: int = 7) -> list[str]:
    """`count` invoice headers written straight to the table in batches (the list reads only headers)."""
    rng = random.Random(seed)
    counterparties = [new_id("counterparty") for _ in range(200)]
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with BatchWrite(InvoiceRecord) as batch:
        for index in range(count):
            issued = date(2025, 1, 1) + timedelta(days=rng.randrange(690))
            cp = rng.randrange(len(counterparties))
            invoice = Invoice(
                tenant_id=tenant_id,
                invoice_id=new_id("invoice"),
                direction=rng.choice(list(Direction)),
                document_kind=DocumentKind.INVOICE,
                number=f"B-{index}",
                counterparty_id=counterparties[cp],
                counterparty_name=f"Counterparty {cp}",
                segment=SEGMENTS[cp % 4],
                issue_date=issued,
                due_date=issued + timedelta(days=rng.choice([14, 30, 60])),
                currency=rng.choice(CURRENCIES),
                subtotal=0,
                tax=0,
                amount_due=rng.randrange(1_000, 5_000_000),
                amount_paid=0,
                status=rng.choice(STATUSES),
                status_before_dispute=None,
                description=None,
                source="bench",
                metadata={},
                created_at=now,
                updated_at=now,
                version=0,
            )
            record = header_record(invoice, None)
            record.version = 1
            batch.save(record)
    return counterparties


LIST_QUERIES = [
    "limit=100",
    "limit=100&direction=receivable",
    "limit=100&status=overdue",
    "limit=100&status=open,overdue&direction=receivable",
    "limit=100&segment=enterprise&due_from=2025-06-01&due_to=2026-06-30",
    "limit=100&currency=EUR&amount_min=100000&amount_max=2000000",
    "limit=100&issue_from=2025-03-01&issue_to=2025-09-30&direction=payable",
    "limit=100&counterparty_id={cp}",
    "limit=100&status=open&currency=USD",
]


@dataclass(frozen=True)
class ListFigure:
    tenant_invoices: int
    query: str
    returned: int
    calls: int
    read_units: float
    milliseconds: float


def measure_lists(gateway: ApiGateway, sizes: list[int]) -> list[ListFigure]:
    figures = []
    for size in sizes:
        tenant = make_tenant(f"List bench {size}")
        counterparties = seed_invoices(tenant.tenant_id, size)
        headers = {"authorization": f"Bearer {tenant.read_only}"}
        gateway.call("GET", "/v1/invoices?limit=1", headers=headers)  # warm: the first call pays cold imports
        for query in LIST_QUERIES:
            path = "/v1/invoices?" + query.format(cp=counterparties[0])
            started = time.perf_counter()
            with metered() as meter:
                response: Any = gateway.call("GET", path, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.body[:300]!r}")
            figures.append(
                ListFigure(
                    size,
                    query.replace("limit=100&", "").replace("limit=100", "(none)"),
                    len(response.json()["data"]),
                    meter.total_calls,
                    meter.read_units,
                    elapsed,
                )
            )
    return figures


def corpus_available() -> bool:
    return Path(CORPUS).is_dir()
