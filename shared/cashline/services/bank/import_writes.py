"""How an import writes a statement: the statement with its claim, its new lines in chunks of at most
`CHUNK_LINES` per DynamoDB transaction (each line with its claim, the statement's counter and the
account's day totals in the same transaction), then the import record and the account's balance.

A crash leaves whole chunks only; the next import of the file finds the statement incomplete (no
import record) and writes the lines still missing (services.bank.imports decides when to resume).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial

from cashline.dal.bank_repository import bank
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.fingerprints import booked_lines, import_totals, new_transaction, slot_fingerprint
from cashline.domain.bank.model import BankStatement, ReportKind
from cashline.domain.bank.reconciliation import BankAccount, BankTransaction, StoredStatement
from cashline.errors import ConflictError
from cashline.ids import new_id
from cashline.services.bank.accounts import NO_CURRENCY, statement_identification

# A line is 2 items (transaction + line claim). 40 lines, the statement's counter, the statement and
# its claim (first chunk) leave room for 17 day-totals items under DynamoDB's 100 per transaction;
# `chunks` cuts a chunk earlier when its lines span more days than that, or carry slot claims (a
# reference-less line of an intraday report or notification is 3 items).
CHUNK_LINES = 40
MAX_TRANSACTION_ITEMS = 100
# Lines matched before the import answers (9 DynamoDB calls each: a few seconds for 200, well inside
# API Gateway's 29 s); the others wait for the bank_match sweep.
MATCH_NOW = 200
# A statement claimed this long ago whose import never finished is taken over by the next import;
# also when the lines matched right after the import fall to the sweep if that matching never ran.
RESUME_AFTER = timedelta(minutes=15)
# Slots probed beyond those a report's reference-less lines need, per BatchGet round.
SLOT_PROBE = 8


@dataclass
class StatementPlan:
    """One statement of the file on its way in."""

    statement: BankStatement
    account: BankAccount
    key: str  # domain.bank.fingerprints.statement_key
    stored: StoredStatement | None = None  # given when resuming a statement an earlier import claimed
    new_lines: list[BankTransaction] = field(default_factory=list)

    @property
    def statement_id(self) -> str:
        assert self.stored is not None, "written by write_statement"
        return self.stored.statement_id


_Line = tuple[int, BankTransaction, datetime, str | None]  # line number, transaction, due_at, slot


def write_statement(
    plan: StatementPlan, import_id: str, *, actor: str, already_new: int, now: datetime
) -> None:
    """Store the statement (unless resuming) and its lines not seen before, chunk by chunk.
    `already_new`: new lines of the file's earlier statements (the first MATCH_NOW are matched now)."""
    tenant_id = plan.account.tenant_id
    lines = booked_lines(plan.statement, plan.account.bank_account_id)
    seen = bank.lines_seen(tenant_id, plan.account.bank_account_id, [b.fingerprint for b in lines])
    fresh = [b for b in lines if b.fingerprint not in seen]
    first: StoredStatement | None = None
    if plan.stored is None:
        plan.stored = first = _stored_statement(plan, import_id, len(fresh), len(lines) - len(fresh), now)
    stored = plan.stored
    pending: list[_Line] = []
    for index, booked in enumerate(fresh, start=already_new):
        tx = new_transaction(stored, booked, transaction_id=new_id("bank_transaction"), actor=actor, now=now)
        # Lines matched right after the import go to the sweep only if that never happens (a crash).
        due_at = now + RESUME_AFTER if index < MATCH_NOW else now
        pending.append((booked.number, tx, due_at, booked.slot_base))
    pending = _with_slots(plan.account, pending)
    for chunk in chunks(pending, extra=3 if first else 1):
        written = _write_chunk(plan, first, chunk)
        plan.new_lines.extend(item[1] for item in written)
        first = None


def _stored_statement(
    plan: StatementPlan, import_id: str, count: int, duplicates: int, now: datetime
) -> StoredStatement:
    s = plan.statement
    return StoredStatement(
        tenant_id=plan.account.tenant_id,
        statement_id=new_id("bank_statement"),
        import_id=import_id,
        bank_account_id=plan.account.bank_account_id,
        account=statement_identification(s) or plan.account.identification,
        format=s.format,
        kind=s.kind.value,
        currency=s.currency if s.currency != NO_CURRENCY else plan.account.currency,
        bank_statement_id=s.statement_id,
        sequence=s.sequence,
        from_date=s.from_date,
        to_date=s.to_date,
        opening_balance=s.opening_balance,
        closing_balance=s.closing_balance,
        transaction_count=count,
        duplicate_lines=duplicates,
        credits_total=s.credits_total,
        debits_total=s.debits_total,
        balanced=s.balanced,
        matched=0,
        unmatched=0,  # each chunk adds its lines
        created_at=now,
    )


def chunks(lines: Sequence[_Line], *, extra: int) -> Iterable[list[_Line]]:
    """At most CHUNK_LINES lines per transaction, fewer when their day totals would pass 100 items.
    `extra`: the other items of the first chunk (the statement's counter; its record and claim); a
    statement without new lines still gets its (empty) first chunk, which stores the statement."""
    chunk: list[_Line] = []
    days: set[tuple[date, str]] = set()
    first = extra > 1
    line_items = 0
    for item in lines:
        day = (item[1].booking_date, item[1].currency)
        weight = 3 if item[3] else 2
        items = extra + line_items + weight + len(days | {day})
        if chunk and (len(chunk) == CHUNK_LINES or items > MAX_TRANSACTION_ITEMS):
            yield chunk
            chunk, days, extra, first, line_items = [], set(), 1, False, 0
        chunk.append(item)
        days.add(day)
        line_items += weight
    if chunk or first:
        yield chunk


def _stages(
    plan: StatementPlan, first: StoredStatement | None, chunk: list[_Line], *, lost: int = 0
) -> UnitOfWork:
    """A chunk's transaction; `lost`: lines of a later chunk another import stored meanwhile, moved
    from the stored statement's `transaction_count` to its `duplicate_lines` (the first chunk's
    statement is written with them counted right)."""
    statement = first or plan.stored
    assert statement is not None
    work = UnitOfWork("a statement or bank line of this file was stored by another import at the same time")
    count = len(chunk)
    if first is not None:
        # One item once per transaction: the statement is put with its first chunk's lines counted.
        stored = replace(first, unmatched=count)
        work.add(lambda write: bank.stage_statement(write, stored, plan.key))
    for number, tx, due_at, slot in chunk:
        work.add(partial(bank.stage_new_transaction, tx=tx, line_number=number, due_at=due_at))
        if slot is not None:
            work.add(partial(bank.stage_line_slot, tx=tx, slot_fingerprint=slot))
    if (count or lost) and first is None:
        work.add(
            lambda write: bank.stage_statement_counts(
                write, statement.tenant_id, statement.statement_id, unmatched=count, duplicates=lost
            )
        )
    for (day, currency), deltas in import_totals(item[1] for item in chunk).items():
        work.add(
            partial(
                bank.stage_totals,
                tenant_id=statement.tenant_id,
                bank_account_id=statement.bank_account_id,
                day=day,
                currency=currency,
                deltas=deltas,
            )
        )
    return work


def _write_chunk(plan: StatementPlan, first: StoredStatement | None, chunk: list[_Line]) -> list[_Line]:
    """One transaction; the lines it wrote. A line another import claimed in the same moment (an
    intraday report and the statement arriving together) is dropped and the rest written again."""
    lost = 0
    for attempt in (1, 2):
        try:
            _stages(plan, first, chunk, lost=lost).commit()
            return chunk
        except ConflictError:
            if first is not None:
                _refuse_if_claimed_by_another(plan, first)
            if attempt == 2:
                raise
            seen = bank.lines_seen(
                plan.account.tenant_id, plan.account.bank_account_id, [item[1].fingerprint for item in chunk]
            )
            # A reference-less line whose slot another report took meanwhile takes the next free one.
            chunk = _with_slots(plan.account, [item for item in chunk if item[1].fingerprint not in seen])
            if first is not None:
                # Still counted right: the statement is written in this very transaction.
                first = plan.stored = replace(
                    first,
                    transaction_count=first.transaction_count - len(seen),
                    duplicate_lines=first.duplicate_lines + len(seen),
                )
            else:
                # The stored statement counted them as new: moved to its duplicates with this chunk.
                lost = len(seen)
    raise AssertionError("unreachable: the second attempt returns or raises")


def _with_slots(account: BankAccount, lines: list[_Line]) -> list[_Line]:
    """`lines` with each reference-less reported line's slot base replaced by its first free slot
    (domain.bank.fingerprints): one BatchGet of the line claims per round, SLOT_PROBE spare each."""
    # item[3] is the slot base, or the slot taken on a first attempt (`<base>#<k>`: base again).
    bases = [item[3].partition("#")[0] if item[3] is not None else None for item in lines]
    wanted = Counter(base for base in bases if base is not None)
    free: dict[str, list[str]] = defaultdict(list)
    start = 0
    while wanted:
        width = max(wanted.values()) + SLOT_PROBE
        probe = {base: [slot_fingerprint(base, k) for k in range(start, start + width)] for base in wanted}
        taken = bank.lines_seen(
            account.tenant_id, account.bank_account_id, [fp for fps in probe.values() for fp in fps]
        )
        for base, fps in probe.items():
            free[base] += [fp for fp in fps if fp not in taken][: wanted[base] - len(free[base])]
        wanted = Counter({base: n for base, n in wanted.items() if len(free[base]) < n})
        start += width
    out: list[_Line] = []
    for (number, tx, due_at, _), wanted_base in zip(lines, bases, strict=True):
        out.append((number, tx, due_at, free[wanted_base].pop(0) if wanted_base is not None else None))
    return out


def _refuse_if_claimed_by_another(plan: StatementPlan, mine: StoredStatement) -> None:
    """Another import of the same statement took its claim between our check and our write."""
    holder = bank.statement_claim(mine.tenant_id, mine.bank_account_id, mine.kind, plan.key)
    if holder is not None and holder != mine.statement_id:
        raise ConflictError(
            f"this statement is being imported right now as {holder}",
            field="body",
            details={"existing_id": holder},
        )


def finish(plans: list[StatementPlan], import_id: str, sha256: str, now: datetime) -> None:
    """The import record(s), which make the statements complete, then each account's balance. A
    resumed statement completes under the import that claimed it."""
    statement_ids: dict[str, list[str]] = defaultdict(list)
    statement_ids[import_id] = []
    for plan in plans:
        assert plan.stored is not None
        statement_ids[plan.stored.import_id].append(plan.stored.statement_id)
    tenant_id, fmt = plans[0].account.tenant_id, plans[0].statement.format
    work = UnitOfWork("this file's import was recorded by another import at the same time")
    for owner, ids in statement_ids.items():
        work.add(
            partial(
                bank.stage_import,
                import_id=owner,
                tenant_id=tenant_id,
                format=fmt,
                sha256=sha256,
                statement_ids=ids,
                now=now,
            )
        )
    work.commit()
    _set_balances(plans, now)


def _set_balances(plans: list[StatementPlan], now: datetime) -> None:
    """Each account's balance from the latest closing balance of the file (a notification has none)."""
    latest: dict[str, tuple[BankAccount, date, int]] = {}
    for plan in plans:
        s = plan.statement
        if s.closing_balance is None or s.to_date is None or s.kind is ReportKind.NOTIFICATION:
            continue
        known = latest.get(plan.account.bank_account_id)
        if known is None or s.to_date >= known[1]:
            latest[plan.account.bank_account_id] = (plan.account, s.to_date, s.closing_balance)
    for account, day, balance in latest.values():
        # A statement of a later day set the balance already (the condition failed): it stays.
        with suppress(ConflictError):
            UnitOfWork("a later balance is stored").add(
                partial(
                    bank.stage_account_balance, account=account, balance=balance, balance_date=day, now=now
                )
            ).commit()
