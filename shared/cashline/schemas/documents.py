"""Document upload/download, e-invoice import and CSV import shapes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cashline.domain.import_reports import ImportReport
from cashline.domain.invoices import Direction
from cashline.schemas.common import OutputModel, RequestModel
from cashline.schemas.invoices import DocumentOutput, InvoiceListQuery


class StartUploadRequest(RequestModel):
    content_type: Literal["application/pdf", "image/png", "image/jpeg", "application/xml", "text/xml"]
    filename: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^/\\\x00-\x1f\"]+$")] | None = (
        None
    )
    max_bytes: int | None = Field(
        default=None, ge=1, le=20 * 1024 * 1024, description="Default and cap: 20 MB"
    )


class PresignedPost(OutputModel):
    method: str = "POST"
    url: str
    fields: dict[str, str] = Field(description="Send these form fields first, then the file as `file`")
    expires_in_seconds: int
    max_bytes: int


class UploadOutput(DocumentOutput):
    """The document itself (pending), with where to send its bytes."""

    upload: PresignedPost


class DownloadOutput(DocumentOutput):
    """The document itself, with a short-lived link to its bytes."""

    download_url: str | None = Field(description="Valid for 5 minutes; null unless the document is available")
    expires_in_seconds: int | None


class ImportQuery(RequestModel):
    direction: Direction | None = Field(
        default=None, description="Only needed when the tenant's tax_id or name does not tell it"
    )


class CsvImportQuery(RequestModel):
    type: Literal["counterparties", "invoices"]
    partial: bool = Field(default=False, description="Import the good rows of a file that has bad ones")


class ImportRowOutput(OutputModel):
    row: int = Field(description="Line in the file; the header is line 1")
    status: Literal["created", "duplicate", "error", "valid"]
    id: str | None = Field(description="The created record, or for a duplicate the one that exists")
    field: str | None
    message: str | None


class ImportOutput(OutputModel):
    object: str = "import"
    type: str
    partial: bool
    written: bool = Field(
        description="False when rows had errors and partial was not asked: nothing was written"
    )
    created: int
    duplicates: int
    errors: int
    rows: list[ImportRowOutput]

    @classmethod
    def of(cls, report: ImportReport) -> ImportOutput:
        return cls(
            type=report.kind,
            partial=report.partial,
            written=report.written,
            created=report.count("created"),
            duplicates=report.count("duplicate"),
            errors=report.count("error"),
            rows=[
                ImportRowOutput(row=r.row, status=r.status, id=r.id, field=r.field, message=r.message)
                for r in report.rows
            ],
        )


class ExportQuery(InvoiceListQuery):
    format: Literal["csv"] = "csv"
