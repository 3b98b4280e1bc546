"""What a CSV import answers, row by row: the report `POST /v1/imports` returns (schemas map it to
the wire), whether the file was written or refused whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RowStatus = Literal["created", "duplicate", "error", "valid"]


@dataclass
class RowResult:
    row: int  # 1 = the header line, so the first data row is 2, as a spreadsheet shows it
    status: RowStatus
    id: str | None = None  # the created record, or for a duplicate the one that exists
    field: str | None = None
    message: str | None = None


@dataclass
class ImportReport:
    kind: str  # counterparties | invoices
    partial: bool  # the good rows of a file with bad ones were asked for
    rows: list[RowResult] = field(default_factory=list)
    written: bool = False  # False: rows had errors, partial was not asked, and nothing was written

    def count(self, status: RowStatus) -> int:
        return sum(1 for r in self.rows if r.status == status)
