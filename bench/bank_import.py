"""Issue 13 figures: reading, importing and matching a bank statement of 10,000 lines.

1. Parsing: a generated camt.053 and the same lines as MT940 (bench/bank_files.py): seconds (one run)
   and the peak of Python allocations (tracemalloc, a second run).
2. Import: the camt.053 through `services.bank.imports.import_file` against DynamoDB Local, every
   botocore call metered (ReturnConsumedCapacity=TOTAL): calls and capacity per line by operation. The
   first `MATCH_NOW` (200) new lines are matched before it returns; the rest wait on the `bank_match`
   due index.
3. The sweep: `services.bank.matching.match_due` (what the `bank_match` schedule runs per tick) matches
   the lines the import left, for a tenant grown to each size of open invoices (filler headers written
   straight to the table as bench/bank_costs.py does, plus the file's own invoices, which one line in
   ten pays by number). Calls and RCU per line must stay flat as the invoices grow.
4. The same file again: the 409 (ConflictError with `existing_id`), its time and calls.

Sizes: BENCH_BANK_IMPORT_LINES (10000), BENCH_BANK_SWEEP_INVOICES (1000,10000: one tenant grown to
each, a new statement of BENCH_BANK_IMPORT_LINES lines imported and swept at each). Run alone:
`python -m bench.bank_import` (results in bench/results/bank_import.md); `make bench` includes it.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from bench.bank_costs import seed_open_invoices
from bench.bank_files import camt053, mt940, targets
from bench.dynamodb_meter import Meter, metered
from cashline.dal.bank_repository import bank
from cashline.domain.bank.camt import parse_camt
from cashline.domain.bank.mt940 import parse_mt940
from cashline.errors import ConflictError
from cashline.services.access import TenantSettings, create_tenant
from cashline.services.bank import matching as matching_service
from cashline.services.bank.import_writes import MATCH_NOW
from cashline.services.bank.imports import ImportResult, import_file
from cashline.services.bank.matching import match_due
from localcloud.cloud import LocalCloud
from localcloud.handlers import load_app, wire_app_to_environment
from localcloud.paths import ROOT
from tests.bank_setup import stored_invoice, write_invoices

FIRST_DAY = date(2026, 10, 5)
CREATED = datetime(2026, 10, 1, tzinfo=UTC)  # the tenant and the statements' invoices
FILE_DAYS = 21  # a file's 20 booking days and the morning after, when it is imported
COLUMNS = ("TransactWriteItems", "BatchGetItem", "GetItem", "Query", "UpdateItem")


@dataclass(frozen=True)
class ParseFigure:
    format: str
    lines: int
    megabytes: float
    seconds: float
    peak_mb: float


@dataclass(frozen=True)
class Run:
    """One metered step: what it did, over how many lines, the meter and the seconds."""

    step: str
    invoices: int
    lines: int
    meter: Meter
    seconds: float
    outcome: str

    def per_line(self, operation: str) -> str:
        calls = self.meter.calls.get(operation, 0) / max(self.lines, 1)
        units = self.meter.units.get(operation, 0.0) / max(self.lines, 1)
        return f"{calls:.2f} / {units:.2f}" if calls else "-"


def _timed(work: Callable[[], Any]) -> tuple[Any, Meter, float]:
    started = time.perf_counter()
    with metered() as meter:
        result = work()
    return result, meter, time.perf_counter() - started


def measure_parsing(count: int) -> list[ParseFigure]:
    figures = []
    for name, make, parse in (
        ("camt.053.001.02", camt053, parse_camt),
        ("MT940", mt940, lambda data: parse_mt940(data, currency=None)),
    ):
        data = make(1, count, FIRST_DAY)
        started = time.perf_counter()
        statements = parse(data)
        seconds = time.perf_counter() - started
        assert sum(len(s.lines) for s in statements) == count
        del statements
        tracemalloc.start()
        parse(data)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures.append(ParseFigure(name, count, len(data) / 1e6, seconds, peak / 1e6))
    return figures


def _seed_targets(tenant_id: str, file_no: int, count: int, due: date) -> None:
    """The file's invoices, with their number lookups (a paying line names them)."""
    invoices = [
        stored_invoice(
            tenant_id,
            t.number,
            t.amount,
            now=CREATED,
            counterparty_id=f"cp_bench{k % 300}",
            counterparty_name=f"Kunde {k % 300} GmbH",
            due_date=due,
            source="bench",
        )
        for k, t in enumerate(targets(file_no, count))
    ]
    for start in range(0, len(invoices), 1000):
        write_invoices(invoices[start : start + 1000])


def _again(run: Callable[[], ImportResult]) -> tuple[str, Meter, float]:
    """The same file once more: a 409 expected, timed and metered."""
    started = time.perf_counter()
    with metered() as meter:
        try:
            run()
            outcome = "201: NOT refused"
        except ConflictError as refused:
            outcome = f"409, existing_id {(refused.details or {}).get('existing_id')}"
    return outcome, meter, time.perf_counter() - started


@contextmanager
def _matching_metered() -> Iterator[list[tuple[Meter, float]]]:
    """Meters `services.bank.matching.match_lines` apart while an import runs (the import calls it
    through the module, so the wrapper is what it finds): the import's own writes are the rest."""
    seen: list[tuple[Meter, float]] = []
    original = matching_service.match_lines

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result, meter, seconds = _timed(lambda: original(*args, **kwargs))
        seen.append((meter, seconds))
        return result

    setattr(matching_service, "match_lines", wrapper)  # noqa: B010
    try:
        yield seen
    finally:
        setattr(matching_service, "match_lines", original)  # noqa: B010


def _minus(total: Meter, part: Meter) -> Meter:
    rest = Meter(calls=total.calls - part.calls)
    rest.read_units, rest.write_units = (
        total.read_units - part.read_units,
        total.write_units - part.write_units,
    )
    for op, units in total.units.items():
        rest.units[op] = units - part.units.get(op, 0.0)
    return rest


class _Tenant:
    """The bench tenant, grown before each statement; each statement's own invoices seeded with it."""

    def __init__(self) -> None:
        self.tenant_id = create_tenant(
            TenantSettings(
                name="Bank import bench", country="DE", base_currency="EUR", timezone="Europe/Berlin"
            ),
            now=CREATED,
        ).tenant_id
        self.filler = 0
        self.files = 0
        self.targets = 0  # the statements' own invoices seeded so far
        self.paid = 0  # of which paid by a matched line (each paying line pays one)
        self.counted: dict[str, int] = {}  # import id -> its lines matched and counted in `paid`
        self.seeding: list[tuple[int, float]] = []

    def next_file(self, lines: int, size: int) -> tuple[int, bytes, datetime, int]:
        """(file number, camt.053 bytes, the import instant, open invoices) of a new statement, the
        tenant grown to `size` open invoices counting the statement's own."""
        self.files += 1
        first_day = FIRST_DAY + timedelta(days=(self.files - 1) * FILE_DAYS)
        now = datetime.combine(first_day + timedelta(days=FILE_DAYS - 1), datetime.min.time(), UTC)
        paying = (lines + 9) // 10
        started = time.perf_counter()
        _seed_targets(self.tenant_id, self.files, paying, first_day + timedelta(days=10))
        self.targets += paying
        grow = max(0, size - self.open)
        seed_open_invoices(self.tenant_id, 10_000_000 + self.filler, grow)
        self.filler += grow
        self.seeding.append((self.open, time.perf_counter() - started))
        return self.files, camt053(self.files, lines, first_day), now + timedelta(hours=6), self.open

    @property
    def open(self) -> int:
        """Open invoices: the filler and the statements' own not yet paid."""
        return self.filler + self.targets - self.paid

    def matched(self, result: ImportResult) -> str:
        """The statement's counts as stored now; its lines matched so far count as paid invoices."""
        statement = bank.get_statement(self.tenant_id, result.statements[0].statement_id)
        self.paid += statement.matched - self.counted.get(result.import_id, 0)
        self.counted[result.import_id] = statement.matched
        return f"{statement.matched} matched, {statement.unmatched} open"


def _importer(tenant_id: str, body: bytes, now: datetime) -> Callable[[], ImportResult]:
    return lambda: import_file(tenant_id, body, bank_account_id=None, actor="bench", now=now)


def measure(
    lines: int, sweep_lines: int, sizes: list[int], *, sweep_rest: bool
) -> tuple[list[Run], list[tuple[int, float]]]:
    """At each size (ascending) a statement of `sweep_lines` imported, then swept; then, at the
    largest, the statement of `lines`: imported (its storing and its matching at once apart), imported
    again, and its remaining lines swept when `sweep_rest`."""
    tenant = _Tenant()
    t = tenant.tenant_id
    runs: list[Run] = []
    for size in sorted(sizes):
        _, body, now, invoices = tenant.next_file(sweep_lines, size)
        result, meter, seconds = _timed(_importer(t, body, now))
        runs.append(
            Run("import (store, match 200)", invoices, sweep_lines, meter, seconds, tenant.matched(result))
        )
        handled, meter, seconds = _timed(partial(match_due, now))
        runs.append(Run("sweep the rest", invoices, handled, meter, seconds, tenant.matched(result)))
    _, body, now, invoices = tenant.next_file(lines, max(sizes))
    run = _importer(t, body, now)
    with _matching_metered() as matched:
        result, meter, seconds = _timed(run)
    at_once = matched[0] if matched else (Meter(), 0.0)
    outcome = tenant.matched(result)
    runs.append(
        Run("import: store", invoices, lines, _minus(meter, at_once[0]), seconds - at_once[1], outcome)
    )
    runs.append(Run(f"import: match {MATCH_NOW} at once", invoices, min(lines, MATCH_NOW), *at_once, ""))
    again, meter, seconds = _again(run)
    runs.append(Run("the same file again", invoices, lines, meter, seconds, again))
    if sweep_rest:
        handled, meter, seconds = _timed(partial(match_due, now))
        runs.append(Run("sweep the rest", invoices, handled, meter, seconds, tenant.matched(result)))
    return runs, tenant.seeding


def report_section(lines: int, sweep_lines: int, sizes: list[int], *, sweep_rest: bool) -> list[str]:
    parsing = measure_parsing(lines)
    runs, seeding = measure(lines, sweep_lines, sizes, sweep_rest=sweep_rest)
    out = [
        "",
        f"## Bank statement of {lines:,} lines: parse, import, sweep, import again (issue 13)",
        "",
        "Generated files (bench/bank_files.py): one line in ten pays an invoice of the tenant by number, "
        "the rest are credits and debits nothing in the books explains. Parse time is one run; the peak "
        "is Python's allocations (tracemalloc) in a second run.",
        "",
        "| format | lines | file MB | parse s | ms per 1,000 lines | peak MB (tracemalloc) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    out += [
        f"| {p.format} | {p.lines:,} | {p.megabytes:.1f} | {p.seconds:.2f} | "
        f"{p.seconds * 1e6 / p.lines:.0f} | {p.peak_mb:.0f} |"
        for p in parsing
    ]
    out += [
        "",
        "### Import, sweep and the same file again (DynamoDB Local, every call metered)",
        "",
        f"`import_file` stores every line and matches the first {MATCH_NOW} before it answers; `match_due` "
        "then matches the rest (the `bank_match` sweep's work: per line a lease, the proposal's lookups "
        "and one transaction that applies the match or keeps the proposals). One tenant, grown before each "
        "statement to N open invoices counting the statement's own (seeded "
        + ", ".join(f"{n:,} in {s:.0f} s" for n, s in seeding)
        + f"). First a statement of {sweep_lines:,} lines at each size, imported and swept; then the "
        f"statement of {lines:,} lines at the largest: its storing and its matching at once metered apart, "
        "then the same file again"
        + (
            ", then its remaining lines swept"
            if sweep_rest
            else " (its remaining lines are left to the sweep)"
        )
        + ". Per line: calls / capacity units of each operation (RCU for reads, WCU as DynamoDB Local "
        "reports them: see the payments section on how Local counts transactions).",
        "",
        "| step | open invoices | lines | seconds | ms per line | calls per line | "
        + " | ".join(COLUMNS)
        + " | RCU per line | WCU per line | Scan | outcome |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(COLUMNS) + "---:|---:|---:|---|",
    ]
    for r in runs:
        n = max(r.lines, 1)
        out.append(
            f"| {r.step} | {r.invoices:,} | {r.lines:,} | {r.seconds:.1f} | {r.seconds * 1000 / n:.2f} | "
            f"{r.meter.total_calls / n:.2f} | "
            + " | ".join(r.per_line(op) for op in COLUMNS)
            + f" | {r.meter.read_units / n:.2f} | {r.meter.write_units / n:.2f} | "
            f"{r.meter.calls.get('Scan', 0)} | {r.outcome} |"
        )
    others = [
        f"{r.step} at {r.invoices:,}: "
        + ", ".join(f"{op} x{n}" for op, n in r.meter.calls.items() if op not in COLUMNS)
        for r in runs
        if set(r.meter.calls) - set(COLUMNS)
    ]
    if others:
        out += ["", "Other operations: " + "; ".join(others) + "."]
    out += ["", _flatness(runs)]
    return out


def _flatness(runs: list[Run]) -> str:
    sweeps = [r for r in runs if r.step == "sweep the rest"]
    scans = sum(r.meter.calls.get("Scan", 0) for r in runs)
    calls = [r.meter.total_calls / max(r.lines, 1) for r in sweeps]
    reads = [r.meter.read_units / max(r.lines, 1) for r in sweeps]
    return (
        (
            "No Scan in any step."
            if not scans
            else f"{scans} Scan calls: a request path lists instead of a lookup."
        )
        + " Sweep per line as the open invoices grow: calls "
        + " -> ".join(f"{c:.2f}" for c in calls)
        + ", RCU "
        + " -> ".join(f"{u:.2f}" for u in reads)
        + "."
    )


def settings() -> tuple[int, int, list[int], bool]:
    """The sizes from the environment (module docstring)."""
    return (
        int(os.environ.get("BENCH_BANK_IMPORT_LINES", "10000")),
        int(os.environ.get("BENCH_BANK_SWEEP_LINES", "2000")),
        [int(s) for s in os.environ.get("BENCH_BANK_SWEEP_INVOICES", "1000,10000").split(",")],
        os.environ.get("BENCH_BANK_SWEEP_REST", "0") == "1",
    )


def section() -> list[str]:
    """The report section with the sizes from the environment (`make bench`)."""
    lines, sweep_lines, sizes, sweep_rest = settings()
    return report_section(lines, sweep_lines, sizes, sweep_rest=sweep_rest)


def main() -> None:
    with LocalCloud() as cloud:
        os.environ.update(cloud.environment())
        load_app()
        wire_app_to_environment()
        figures = section()
    report = "\n".join(
        ["# Bank statement import bench", "", f"run at {datetime.now(UTC).isoformat(timespec='seconds')}",
         *figures]
    ) + "\n"  # fmt: skip
    print(report)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "bank_import.md").write_text(report)


if __name__ == "__main__":
    main()
