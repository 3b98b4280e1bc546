"""Issue 13 figures: what matching one bank line costs in DynamoDB as the tenant's open invoices grow.

One tenant grows to 1,000, 10,000 and 100,000 open invoices (headers written straight to the table,
BatchWrite in 4 threads, as the invoice repository writes them; number lookups only for the bench's
own invoices: another number's lookup is another partition, never read by a line; 500
customers, amounts that differ from the bench lines'). Beside them sit a few invoices the bench lines
pay: by number, by RF creditor reference, by amount only, by the payer's IBAN (one invoice of the
amount, or a combination of its open invoices), and a line nothing matches. At each size every line
goes through matching's `propose` over `StoredCandidates` (dal/bank_candidates.py), metered (every
botocore call, ReturnConsumedCapacity=TOTAL), and so does each lookup alone.

Reads per line must stay flat: every lookup is keyed (docs/data-model.md, "Bank reconciliation
indexes"). Run alone: `python -m bench.bank_costs` (BENCH_BANK_INVOICES=1000,10000,100000); `make
bench` includes it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bench.dynamodb_meter import metered
from cashline.dal.bank_candidates import StoredCandidates
from cashline.dal.party_repository import CounterpartyRepository
from cashline.domain.bank.matching import propose
from cashline.domain.bank.reconciliation import BankTransaction
from cashline.domain.invoices import Invoice
from cashline.domain.references import creditor_reference
from cashline.ids import new_id
from localcloud.cloud import LocalCloud
from localcloud.handlers import load_app, wire_app_to_environment
from localcloud.paths import ROOT
from tests.bank_books import bank_line
from tests.bank_setup import a_counterparty, stored_invoice, write_invoices

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
PAYER_IBAN = "DE02120300000000202051"
CUSTOMERS = 500
WRITERS = 4


@dataclass(frozen=True)
class LineFigure:
    invoices: int
    line: str
    best: str  # the best proposal's rule and score, or "-"
    calls: int
    operations: str
    read_units: float
    milliseconds: float


@dataclass(frozen=True)
class LookupFigure:
    invoices: int
    lookup: str
    found: int
    calls: int
    operations: str
    read_units: float


def _invoice(tenant_id: str, number: str, amount: int, counterparty: tuple[str, str], due: date) -> Invoice:
    return stored_invoice(
        tenant_id,
        number,
        amount,
        now=NOW,
        counterparty_id=counterparty[0],
        counterparty_name=counterparty[1],
        issue_date=due - timedelta(days=30),
        due_date=due,
        source="bench",
    )


def _write_headers(invoices: list[Invoice]) -> None:
    # A number lookup is its own partition (`T#<t>#INVNUM#<d>#<number>`): the filler's would never be
    # read by a bench line, so they are left out, which halves the seeding time.
    write_invoices(invoices, with_numbers=False)


def seed_open_invoices(tenant_id: str, first: int, count: int) -> float:
    """Open invoices `first`..`first + count - 1` of 500 customers; amounts 1,000,000 and up, so
    none equals a bench line's. Returns the seconds it took."""
    rng = random.Random(first)
    invoices = [
        _invoice(
            tenant_id,
            f"B-{n:07d}",
            1_000_000 + rng.randrange(5_000_000),
            (f"cp_bench{n % CUSTOMERS}", f"Customer {n % CUSTOMERS}"),
            TODAY + timedelta(days=rng.randrange(-60, 60)),
        )
        for n in range(first, first + count)
    ]
    started = time.perf_counter()
    chunk = max(1, len(invoices) // WRITERS + 1)
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(_write_headers, [invoices[i : i + chunk] for i in range(0, len(invoices), chunk)]))
    return time.perf_counter() - started


def _payer(tenant_id: str) -> str:
    return (
        CounterpartyRepository()
        .create(a_counterparty(tenant_id, PAYER_IBAN, now=NOW, country="DE"))
        .counterparty_id
    )


def seed_known(tenant_id: str) -> None:
    """The invoices the bench lines pay: the payer's three (by IBAN and combination), one named by
    number, one by RF reference, one found by its amount only."""
    payer = (_payer(tenant_id), "Acme GmbH")
    other = ("cp_known_other", "Bright Ltd")
    write_invoices(
        [
            _invoice(tenant_id, "K-000001", 11_100, payer, TODAY - timedelta(days=20)),
            _invoice(tenant_id, "K-000002", 22_200, payer, TODAY - timedelta(days=10)),
            _invoice(tenant_id, "K-000003", 33_400, payer, TODAY),
            _invoice(tenant_id, "K-000004", 44_000, other, TODAY),
            _invoice(tenant_id, "K-000005", 55_555, other, TODAY),
            _invoice(tenant_id, "K-000006", 66_000, other, TODAY),
        ]
    )


def _line(tenant_id: str, amount: int, **facts: object) -> BankTransaction:
    return bank_line(
        **{
            "tenant_id": tenant_id,
            "transaction_id": new_id("bank_transaction"),
            "bank_account_id": "ba_bench",
            "statement_id": "bst_bench",
            "import_id": "bsi_bench",
            "fingerprint": "bench",
            "amount": amount,
            "booking_date": TODAY,
            "value_date": TODAY,
            **facts,
        }
    )


def bench_lines(tenant_id: str) -> dict[str, BankTransaction]:
    return {
        "invoice number in the text": _line(tenant_id, 66_000, remittance="Rechnung K-000006 vielen Dank"),
        "RF creditor reference": _line(tenant_id, 44_000, creditor_reference=creditor_reference("K000004")),
        "amount only": _line(tenant_id, 55_555, remittance="Zahlung", counterparty_name="Bright Ltd"),
        "payer IBAN, one invoice of the amount": _line(
            tenant_id, 22_200, remittance="Zahlung Februar", counterparty_iban=PAYER_IBAN
        ),
        "payer IBAN, a combination": _line(
            tenant_id, 33_300, remittance="Sammelzahlung", counterparty_iban=PAYER_IBAN
        ),
        "nothing matches": _line(tenant_id, 77_777, remittance="Miete Lager 3", counterparty_name="Unknown"),
    }


def _lookups(books: StoredCandidates, payer_id: str) -> dict[str, Callable[[], list[object] | str | None]]:
    return {
        "invoices_by_number": lambda: list(books.invoices_by_number("receivable", "K000006")),
        "invoices_owing": lambda: list(books.invoices_owing("receivable", "EUR", 55_555)),
        "open_invoices_of": lambda: list(books.open_invoices_of(payer_id, "receivable", "EUR")),
        "open_invoices_of (a customer with N/500 invoices)": lambda: list(
            books.open_invoices_of("cp_bench1", "receivable", "EUR")
        ),
        "counterparty_of_iban": lambda: books.counterparty_of_iban(PAYER_IBAN),
        "learned_counterparty": lambda: books.learned_counterparty("SAMMELZAHLUNG"),
        "installments_due": lambda: list(books.installments_due("EUR", 22_200, TODAY)),
        "payments_near": lambda: list(books.payments_near("payout", "EUR", 55_555, TODAY)),
    }


def _found(answer: list[object] | str | None) -> int:
    if isinstance(answer, list):
        return len(answer)
    return 0 if answer is None else 1


def measure(sizes: list[int]) -> tuple[list[LineFigure], list[LookupFigure], list[tuple[int, float]]]:
    tenant_id = new_id("tenant")
    seed_known(tenant_id)
    books = StoredCandidates(tenant_id)
    payer_id = books.counterparty_of_iban(PAYER_IBAN) or ""
    lines = bench_lines(tenant_id)
    line_figures: list[LineFigure] = []
    lookup_figures: list[LookupFigure] = []
    seeding: list[tuple[int, float]] = []
    seeded = 0
    for size in sorted(sizes):
        seeding.append((size, seed_open_invoices(tenant_id, seeded, size - seeded)))
        seeded = size
        for name, line in lines.items():
            started = time.perf_counter()
            with metered() as meter:
                proposals = propose(line, books, today=TODAY)
            elapsed = (time.perf_counter() - started) * 1000
            best = f"{proposals[0].rule.value} {proposals[0].score}" if proposals else "-"
            line_figures.append(
                LineFigure(size, name, best, meter.total_calls, meter.describe(), meter.read_units, elapsed)
            )
        for name, lookup in _lookups(books, payer_id).items():
            with metered() as meter:
                answer = lookup()
            lookup_figures.append(
                LookupFigure(
                    size, name, _found(answer), meter.total_calls, meter.describe(), meter.read_units
                )
            )
    return line_figures, lookup_figures, seeding


def report_section(sizes: list[int]) -> list[str]:
    lines_, lookups, seeding = measure(sizes)
    out = [
        "",
        "## Matching one bank line as the open invoices grow (issue 13)",
        "",
        "One tenant grown to each size (open receivable invoices of 500 customers, written straight to the "
        "table: " + ", ".join(f"{n:,} in {s:.0f} s" for n, s in seeding) + "). Each line goes through "
        "`domain.bank.matching.propose` over `dal.bank_candidates.StoredCandidates`; every DynamoDB call "
        "counted (DynamoDB Local, ReturnConsumedCapacity=TOTAL).",
        "",
        "| open invoices | bank line | best proposal | DynamoDB calls | operations | RCU | ms |",
        "|---:|---|---|---:|---|---:|---:|",
    ]
    out += [
        f"| {f.invoices:,} | {f.line} | {f.best} | {f.calls} | {f.operations} | {f.read_units:g} | "
        f"{f.milliseconds:.0f} |"
        for f in lines_
    ]
    out += [
        "",
        "### Each lookup alone",
        "",
        "| open invoices | lookup | found | DynamoDB calls | operations | RCU |",
        "|---:|---|---:|---:|---|---:|",
    ]
    out += [
        f"| {f.invoices:,} | {f.lookup} | {f.found} | {f.calls} | {f.operations} | {f.read_units:g} |"
        for f in lookups
    ]
    out += ["", _flatness(lines_)]
    return out


def _flatness(figures: list[LineFigure]) -> str:
    by_line: dict[str, set[int]] = {}
    for f in figures:
        by_line.setdefault(f.line, set()).add(f.calls)
    grew = [line for line, calls in by_line.items() if len(calls) > 1]
    if grew:
        return "Calls per line changed with the number of invoices for: " + ", ".join(grew) + "."
    return (
        "Calls per line are the same at every size: no lookup reads more as the invoices grow. The RCU of "
        "a payer's open invoices follow that payer's own invoices (here N/500 each, all open), up to the "
        "500 items one lookup may examine, never the tenant's. The first line's time includes the "
        "process's first DynamoDB connection."
    )


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_BANK_INVOICES", "1000,10000,100000").split(",")]
    with LocalCloud() as cloud:
        os.environ.update(cloud.environment())
        load_app()
        wire_app_to_environment()
        section = report_section(sizes)
    report = (
        "\n".join(
            [
                "# Bank reconciliation bench",
                "",
                f"run at {datetime.now(UTC).isoformat(timespec='seconds')}",
                *section,
            ]
        )
        + "\n"
    )
    print(report)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "bank_costs.md").write_text(report)


if __name__ == "__main__":
    main()
