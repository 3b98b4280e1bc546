"""GET/PUT /v1/billing-settings: defaults from the tenant, every field checked and named, versioned;
the seller's invoice details; PUT/DELETE /v1/billing-settings/logo against moto's S3."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from cashline.services.billing.settings import get_billing_settings
from localcloud.cloud import LocalCloud
from tests.utils import Api, TestTenant, error_of

NO_DETAILS = {
    "legal_name": None,
    "address_lines": [],
    "postcode": None,
    "city": None,
    "country": None,
    "email": None,
    "phone": None,
    "iban": None,
    "bic": None,
    "tax_number": None,
    "commercial_register": None,
    "managing_directors": None,
}

DEFAULTS = {
    "registered_country": "DE",  # the tenant's country
    "vat_id": None,  # the tenant has no tax id
    "oss": False,
    "number_pattern": "{YYYY}-{seq:06}",
    "auto_finalise_hours": 0,
    "days_until_due": 14,
    "retry_days": [1, 3, 5, 7],
    "after_last_failure": "leave_unpaid",
    "vies_check": False,
    "invoice_details": NO_DETAILS,
    "logo": None,
    "version": 0,
}


def _put(api: Api, tenant: TestTenant, **fields: Any) -> Any:
    return api.request("PUT", "/v1/billing-settings", key=tenant.admin, json_body=fields)


def test_settings_never_saved_are_the_defaults_with_the_tenants_country(api: Api, tenant: TestTenant) -> None:
    response = api.get("/v1/billing-settings", key=tenant.read_only)
    assert response.status_code == 200, response.body
    assert response.json() == DEFAULTS


def test_put_replaces_the_settings_and_services_read_them(api: Api, tenant: TestTenant) -> None:
    body = {
        "registered_country": "at",
        "vat_id": "atu 13585627",
        "oss": True,
        "number_pattern": "RE-{YY}-{seq:05}",
        "auto_finalise_hours": 24,
        "days_until_due": 30,
        "retry_days": [2, 4, 9],
        "after_last_failure": "cancel",
        "vies_check": True,
    }
    response = _put(api, tenant, **body)
    assert response.status_code == 200, response.body
    saved = response.json()
    assert saved == {
        **body,
        "registered_country": "AT",
        "vat_id": "ATU13585627",
        "invoice_details": NO_DETAILS,
        "logo": None,
        "version": 1,
    }
    assert api.get("/v1/billing-settings", key=tenant.read_only).json() == saved

    settings = get_billing_settings(tenant.tenant_id)
    assert (settings.registered_country, settings.vat_id, settings.retry_days) == (
        "AT",
        "ATU13585627",
        (2, 4, 9),
    )
    assert settings.after_last_failure == "cancel" and settings.version == 1


def test_fields_left_out_take_their_defaults(api: Api, tenant: TestTenant) -> None:
    _put(api, tenant, days_until_due=30)
    response = _put(api, tenant, auto_finalise_hours=2, version=1)
    assert response.status_code == 200, response.body
    assert response.json() == {**DEFAULTS, "auto_finalise_hours": 2, "version": 2}


def test_a_stale_version_is_a_conflict_and_changes_nothing(api: Api, tenant: TestTenant) -> None:
    assert _put(api, tenant, days_until_due=30).status_code == 200
    first_save_again = _put(api, tenant, days_until_due=7)  # version 0: as if never saved
    assert first_save_again.status_code == 409
    assert error_of(first_save_again)["field"] == "version"
    stale = _put(api, tenant, days_until_due=7, version=5)
    assert stale.status_code == 409
    assert api.get("/v1/billing-settings", key=tenant.read_only).json()["days_until_due"] == 30


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"vat_id": "DE136695977"}, "vat_id"),  # checksum
        ({"vat_id": "FR40303265045"}, "vat_id"),  # valid, but not of the registered country (DE)
        ({"registered_country": "CH", "vat_id": "DE136695976"}, "vat_id"),
        ({"registered_country": "Germany"}, "registered_country"),
        ({"number_pattern": "{YYYY}"}, "number_pattern"),
        ({"number_pattern": "INV #{seq}"}, "number_pattern"),
        ({"number_pattern": "{DD}-{seq}"}, "number_pattern"),
        ({"number_pattern": "A" * 41 + "{seq}"}, "number_pattern"),
        ({"auto_finalise_hours": 721}, "auto_finalise_hours"),
        ({"auto_finalise_hours": -1}, "auto_finalise_hours"),
        ({"days_until_due": 366}, "days_until_due"),
        ({"retry_days": [3, 1]}, "retry_days"),
        ({"retry_days": [1, 1]}, "retry_days"),
        ({"retry_days": [0]}, "retry_days.0"),
        ({"retry_days": [61]}, "retry_days.0"),
        ({"retry_days": list(range(1, 10))}, "retry_days"),
        ({"after_last_failure": "retry_forever"}, "after_last_failure"),
        ({"oss": "yes"}, "oss"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(
    api: Api, tenant: TestTenant, fields: dict[str, Any], field: str
) -> None:
    response = _put(api, tenant, **fields)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    assert api.get("/v1/billing-settings", key=tenant.read_only).json()["version"] == 0  # nothing written


def test_a_vat_id_outside_the_eu_is_kept_as_given(api: Api, tenant: TestTenant) -> None:
    response = _put(api, tenant, registered_country="CH", vat_id="CHE-116.281.710")
    assert response.status_code == 200, response.body
    assert response.json()["vat_id"] == "CHE116281710"


def test_only_an_admin_changes_the_settings(api: Api, tenant: TestTenant) -> None:
    response = api.request(
        "PUT", "/v1/billing-settings", key=tenant.finance, json_body={"days_until_due": 30}
    )
    assert response.status_code == 403
    assert api.get("/v1/billing-settings", key=tenant.finance).status_code == 200


def test_settings_belong_to_their_tenant(api: Api, tenant_factory: Callable[..., TestTenant]) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    assert _put(api, tenant, days_until_due=45).status_code == 200
    assert api.get("/v1/billing-settings", key=other.read_only).json() == DEFAULTS


# --------------------------------------------------------------------------------------------------
# The seller's invoice details

DETAILS = {
    "legal_name": "Acme Software GmbH",
    "address_lines": ["Friedrichstr. 10", "Aufgang B"],
    "postcode": "10117",
    "city": "Berlin",
    "country": "de",
    "email": "rechnung@acme.example",
    "phone": "+49 30 1234567",
    "iban": "DE89 3704 0044 0532 0130 00",
    "bic": "cobadeffxxx",
    "tax_number": "27/123/45678",
    "commercial_register": "Amtsgericht Charlottenburg, HRB 123456 B",
    "managing_directors": "Erika Mustermann",
}


def test_invoice_details_are_checked_compacted_and_read_back(api: Api, tenant: TestTenant) -> None:
    response = _put(api, tenant, invoice_details=DETAILS)
    assert response.status_code == 200, response.body
    assert response.json()["invoice_details"] == {
        **DETAILS,
        "country": "DE",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
    }
    details = get_billing_settings(tenant.tenant_id).invoice_details
    assert (details.legal_name, details.address_lines, details.iban) == (
        "Acme Software GmbH",
        ("Friedrichstr. 10", "Aufgang B"),
        "DE89370400440532013000",
    )
    # left out on the next PUT: back to none (PUT replaces the whole settings)
    assert _put(api, tenant, version=1).json()["invoice_details"] == NO_DETAILS


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"iban": "DE89 3704 0044 0532 0130 01"}, "invoice_details.iban"),  # checksum
        ({"bic": "COBAZZFFXXX"}, "invoice_details.bic"),  # no such country
        ({"bic": "COBA"}, "invoice_details.bic"),
        ({"email": "not-an-address"}, "invoice_details.email"),
        ({"phone": "call me"}, "invoice_details.phone"),
        ({"address_lines": ["Friedrichstr. 10"], "city": "Berlin"}, "invoice_details.postcode"),
        ({"postcode": "10117", "city": "Berlin"}, "invoice_details.address_lines"),
        ({"country": "Deutschland"}, "invoice_details.country"),
        ({"address_lines": ["a", "b", "c", "d"]}, "invoice_details.address_lines"),
        ({"legal_name": "x" * 201}, "invoice_details.legal_name"),
        ({"commercial_register": "HRB\n1"}, "invoice_details.commercial_register"),
        ({"website": "acme.example"}, "invoice_details.website"),
    ],
)
def test_bad_invoice_details_are_a_400_naming_the_field(
    api: Api, tenant: TestTenant, details: dict[str, Any], field: str
) -> None:
    response = _put(api, tenant, invoice_details=details)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    assert api.get("/v1/billing-settings", key=tenant.read_only).json()["version"] == 0  # nothing written


# --------------------------------------------------------------------------------------------------
# The logo


def _image(kind: str, size: tuple[int, int] = (120, 40), *, noise: bool = False) -> bytes:
    image = (
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        if noise
        else Image.new("RGB", size, (200, 30, 30))
    )
    out = io.BytesIO()
    image.save(out, format=kind)
    return out.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels, with no image data to speak of."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def _put_logo(api: Api, tenant: TestTenant, data: bytes, content_type: str, key: str | None = None) -> Any:
    return api.request(
        "PUT",
        "/v1/billing-settings/logo",
        key=key or tenant.admin,
        raw_body=data,
        headers={"Content-Type": content_type},
    )


def _object(local_cloud: LocalCloud, key: str) -> bytes | None:
    s3 = local_cloud.client("s3")
    bucket = str(local_cloud.environment()["CASHLINE_DOCUMENTS_BUCKET"])
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def test_a_logo_is_uploaded_replaced_and_deleted(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud
) -> None:
    # Given settings saved before (the logo must not disturb them)
    assert (
        _put(api, tenant, days_until_due=30, invoice_details={"legal_name": "Acme GmbH"}).status_code == 200
    )
    png = _image("PNG")
    digest = hashlib.sha256(png).hexdigest()

    # When a PNG is uploaded
    response = _put_logo(api, tenant, png, "image/png")

    # Then the settings name it, and the bucket holds it under branding/<tenant>/
    assert response.status_code == 200, response.body
    body = response.json()
    assert body["logo"] == {"content_type": "image/png", "size_bytes": len(png), "sha256": digest}
    assert (body["days_until_due"], body["invoice_details"]["legal_name"], body["version"]) == (
        30,
        "Acme GmbH",
        2,
    )
    assert api.get("/v1/billing-settings", key=tenant.read_only).json()["logo"] == body["logo"]
    first_key = f"branding/{tenant.tenant_id}/logo/{digest}"
    assert _object(local_cloud, first_key) == png

    # and a PUT of the settings keeps it
    kept = _put(api, tenant, days_until_due=21, version=2)
    assert kept.status_code == 200, kept.body
    assert kept.json()["logo"] == body["logo"]

    # When it is replaced by a JPEG
    jpeg = _image("JPEG", (300, 100))
    replaced = _put_logo(api, tenant, jpeg, "image/jpeg")
    assert replaced.status_code == 200, replaced.body
    assert replaced.json()["logo"]["content_type"] == "image/jpeg"
    new_key = f"branding/{tenant.tenant_id}/logo/{hashlib.sha256(jpeg).hexdigest()}"
    assert _object(local_cloud, new_key) == jpeg
    assert _object(local_cloud, first_key) is None  # the previous one is gone

    # When it is deleted (twice: the second changes nothing)
    deleted = api.delete("/v1/billing-settings/logo", key=tenant.admin)
    assert deleted.status_code == 200, deleted.body
    assert deleted.json()["logo"] is None
    assert _object(local_cloud, new_key) is None
    again = api.delete("/v1/billing-settings/logo", key=tenant.admin)
    assert again.status_code == 200 and again.json()["version"] == deleted.json()["version"]
    assert get_billing_settings(tenant.tenant_id).logo is None


def test_the_same_logo_twice_keeps_its_object(api: Api, tenant: TestTenant, local_cloud: LocalCloud) -> None:
    png = _image("PNG")
    assert _put_logo(api, tenant, png, "image/png").status_code == 200
    assert _put_logo(api, tenant, png, "image/png").status_code == 200
    assert _object(local_cloud, f"branding/{tenant.tenant_id}/logo/{hashlib.sha256(png).hexdigest()}") == png


@pytest.mark.parametrize(
    ("make", "content_type", "status", "field"),
    [
        (lambda: _image("GIF"), "image/png", 415, "logo"),  # a GIF, declared PNG
        (lambda: _image("JPEG"), "image/png", 415, "logo"),  # the bytes disagree with the type
        (lambda: _image("PNG"), "image/jpeg", 415, "logo"),
        (lambda: b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png", 415, "logo"),
        (lambda: _image("PNG", (600, 600), noise=True), "image/png", 413, "logo"),  # > 512 KiB
        (lambda: _image("PNG", (2001, 20)), "image/png", 422, "logo"),
        (lambda: _image("JPEG", (20, 2400)), "image/jpeg", 422, "logo"),
        (lambda: _png_claiming(100_000, 100_000), "image/png", 422, "logo"),  # a decompression bomb
        (lambda: _png_claiming(2000, 2000), "image/png", 422, "logo"),  # small enough, but no pixels
        (lambda: _image("PNG", (400, 400), noise=True)[:5000], "image/png", 422, "logo"),  # truncated
        (lambda: b"", "image/png", 422, "logo"),
        (lambda: _image("GIF"), "image/gif", 415, "Content-Type"),  # refused before the route
    ],
)
def test_a_logo_of_the_wrong_type_or_size_is_refused_naming_it(
    api: Api,
    tenant: TestTenant,
    local_cloud: LocalCloud,
    make: Callable[[], bytes],
    content_type: str,
    status: int,
    field: str,
) -> None:
    response = _put_logo(api, tenant, make(), content_type)
    assert response.status_code == status, response.body
    assert error_of(response)["field"] == field
    assert api.get("/v1/billing-settings", key=tenant.read_only).json()["logo"] is None
    bucket = str(local_cloud.environment()["CASHLINE_DOCUMENTS_BUCKET"])
    listed = local_cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"branding/{tenant.tenant_id}/")
    assert listed.get("KeyCount", 0) == 0  # nothing stored


def test_only_an_admin_changes_the_logo_and_another_tenant_never_sees_it(
    api: Api, tenant_factory: Callable[..., TestTenant], local_cloud: LocalCloud
) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    png = _image("PNG")
    assert _put_logo(api, tenant, png, "image/png", key=tenant.finance).status_code == 403
    assert api.delete("/v1/billing-settings/logo", key=tenant.finance).status_code == 403
    assert _put_logo(api, tenant, png, "image/png").status_code == 200

    assert api.get("/v1/billing-settings", key=other.read_only).json()["logo"] is None
    # the other tenant's delete is of its own (absent) logo: the first tenant's stays
    assert api.delete("/v1/billing-settings/logo", key=other.admin).json()["logo"] is None
    assert api.get("/v1/billing-settings", key=tenant.read_only).json()["logo"] is not None
    assert _object(local_cloud, f"branding/{tenant.tenant_id}/logo/{hashlib.sha256(png).hexdigest()}") == png
