"""GET/PUT /v1/billing-settings: request and response."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from cashline.dal.billing_settings import BillingSettings, InvoiceDetails, StoredLogo
from cashline.domain.billing.numbering import DEFAULT_PATTERN, MAX_PATTERN_LENGTH, check_pattern
from cashline.schemas.common import OutputModel, RequestModel

MAX_RETRIES = 8


def _pattern(value: str) -> str:
    check_pattern(value)  # its ValueError names what is wrong; pydantic names the field
    return value


def _ascending(days: list[int]) -> list[int]:
    if any(later <= earlier for earlier, later in pairwise(days)):
        raise ValueError("retry days must be in ascending order, each once")
    return days


CountryCode = Annotated[
    str,
    Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2", examples=["DE"]),
    AfterValidator(str.upper),
]
RetryDay = Annotated[int, Field(ge=1, le=60)]
Line = Annotated[str, Field(min_length=1, max_length=100)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class InvoiceDetailsRequest(RequestModel):
    """The seller as the invoices print it. Shapes here; IBAN, BIC, e-mail and phone are checked in
    services.billing.settings (`checked_invoice_details`), which names `invoice_details.<field>`."""

    legal_name: Text | None = Field(default=None, examples=["Acme Software GmbH"])
    address_lines: Annotated[list[Line], Field(max_length=3)] = Field(
        default_factory=list, description="Street and number (and c/o, building), without postcode and city"
    )
    postcode: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    city: Line | None = None
    country: CountryCode | None = Field(default=None, description="Empty: the registered country")
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=30)] | None = None
    iban: Annotated[str, Field(max_length=42)] | None = None
    bic: Annotated[str, Field(max_length=14)] | None = None
    tax_number: Annotated[str, Field(min_length=1, max_length=30)] | None = Field(
        default=None, description="Steuernummer, printed beside the VAT id", examples=["27/123/45678"]
    )
    commercial_register: Text | None = Field(
        default=None, examples=["Amtsgericht Charlottenburg, HRB 123456 B"]
    )
    managing_directors: Text | None = Field(default=None, examples=["Erika Mustermann"])

    def details(self) -> InvoiceDetails:
        return InvoiceDetails(
            legal_name=self.legal_name,
            address_lines=tuple(self.address_lines),
            postcode=self.postcode,
            city=self.city,
            country=self.country,
            email=self.email,
            phone=self.phone,
            iban=self.iban,
            bic=self.bic,
            tax_number=self.tax_number,
            commercial_register=self.commercial_register,
            managing_directors=self.managing_directors,
        )


class BillingSettingsRequest(RequestModel):
    """The whole settings (PUT replaces them; a field left out takes its default)."""

    registered_country: CountryCode | None = Field(
        default=None, description="Where the tenant is registered for VAT; empty: the tenant's country"
    )
    vat_id: Annotated[str, Field(min_length=4, max_length=20)] | None = Field(
        default=None,
        description="The tenant's VAT id (EU ids: format and checksum checked); empty: the tenant's tax id",
        examples=["DE136695976"],
    )
    oss: bool = Field(default=False, description="Registered for the One-Stop-Shop")
    number_pattern: Annotated[str, Field(max_length=MAX_PATTERN_LENGTH), AfterValidator(_pattern)] = Field(
        default=DEFAULT_PATTERN,
        description="Invoice numbers: {seq} or {seq:0N} once, {YYYY}, {YY}, {MM}; letters, digits, - / _ .",
    )
    auto_finalise_hours: int = Field(
        default=0, ge=0, le=720, description="Drafts wait this long for review; 0 finalises on issue"
    )
    days_until_due: int = Field(
        default=14, ge=0, le=365, description="Payment term of send_invoice subscriptions that state none"
    )
    retry_days: Annotated[list[RetryDay], Field(max_length=MAX_RETRIES), AfterValidator(_ascending)] = Field(
        default_factory=lambda: [1, 3, 5, 7],
        description="Days after a failed automatic charge to retry it, ascending",
    )
    after_last_failure: Literal["cancel", "leave_unpaid"] = "leave_unpaid"
    vies_check: bool = Field(default=False, description="Confirm customers' EU VAT ids with VIES")
    invoice_details: InvoiceDetailsRequest = Field(
        default_factory=InvoiceDetailsRequest,
        description="The seller on issued invoices; empty fields: the collection creditor details",
    )
    version: int = Field(default=0, ge=0, description="The version you read; 0 for the first save")

    def settings(self) -> BillingSettings:
        return BillingSettings(
            registered_country=self.registered_country,
            vat_id=self.vat_id,
            oss=self.oss,
            number_pattern=self.number_pattern,
            auto_finalise_hours=self.auto_finalise_hours,
            days_until_due=self.days_until_due,
            retry_days=tuple(self.retry_days),
            after_last_failure=self.after_last_failure,
            vies_check=self.vies_check,
            invoice_details=self.invoice_details.details(),
            version=self.version,
        )


class InvoiceDetailsOutput(OutputModel):
    legal_name: str | None
    address_lines: list[str]
    postcode: str | None
    city: str | None
    country: str | None
    email: str | None
    phone: str | None
    iban: str | None
    bic: str | None
    tax_number: str | None
    commercial_register: str | None
    managing_directors: str | None

    @classmethod
    def of(cls, details: InvoiceDetails) -> InvoiceDetailsOutput:
        return cls(
            legal_name=details.legal_name,
            address_lines=list(details.address_lines),
            postcode=details.postcode,
            city=details.city,
            country=details.country,
            email=details.email,
            phone=details.phone,
            iban=details.iban,
            bic=details.bic,
            tax_number=details.tax_number,
            commercial_register=details.commercial_register,
            managing_directors=details.managing_directors,
        )


class LogoOutput(OutputModel):
    content_type: str
    size_bytes: int
    sha256: str

    @classmethod
    def of(cls, logo: StoredLogo | None) -> LogoOutput | None:
        return (
            None
            if logo is None
            else cls(**{k: getattr(logo, k) for k in ("content_type", "size_bytes", "sha256")})
        )


class BillingSettingsOutput(OutputModel):
    registered_country: str | None
    vat_id: str | None
    oss: bool
    number_pattern: str
    auto_finalise_hours: int
    days_until_due: int
    retry_days: list[int]
    after_last_failure: Literal["cancel", "leave_unpaid"]
    vies_check: bool
    invoice_details: InvoiceDetailsOutput
    logo: LogoOutput | None
    version: int

    @classmethod
    def of(cls, settings: BillingSettings) -> BillingSettingsOutput:
        return cls(
            registered_country=settings.registered_country,
            vat_id=settings.vat_id,
            oss=settings.oss,
            number_pattern=settings.number_pattern,
            auto_finalise_hours=settings.auto_finalise_hours,
            days_until_due=settings.days_until_due,
            retry_days=list(settings.retry_days),
            after_last_failure=settings.after_last_failure,
            vies_check=settings.vies_check,
            invoice_details=InvoiceDetailsOutput.of(settings.invoice_details),
            logo=LogoOutput.of(settings.logo),
            version=settings.version,
        )
