"""The processor client for a debit account, built from the configured endpoints and timeout: one
place for Cashline's own debits (services/debits.py) and the tenants' charges
(services/billing/charge_processor.py), which differ only in whose credential they pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cashline.config import url_text

if TYPE_CHECKING:
    from cashline.adapters.processors import (
        DebitAccount,
        DebitProcessor,
        DebitRefusedError,
        DebitResult,
        DebitTimeoutError,
        ProcessorUnavailableError,
    )
    from cashline.config import DebitSettings

    # What asking a processor comes to, as a value: a result or the error it ended in.
    Outcome = DebitResult | DebitRefusedError | DebitTimeoutError | ProcessorUnavailableError


def processor_from_settings(
    account: DebitAccount, settings: DebitSettings, *, stripe_api_key: str, gocardless_token: str
) -> DebitProcessor:
    """The processor that debits `account` with these credentials, at the settings' base URLs (the
    local stand-ins locally) and timeout."""
    # defer the processor SDKs (stripe, gocardless_pro: ~100 ms) to the first debit or charge
    from cashline.adapters.processors import processor_for

    return processor_for(
        account,
        stripe_api_key=stripe_api_key,
        stripe_api_base=url_text(settings.stripe_api_base),
        gocardless_token=gocardless_token,
        gocardless_base_url=url_text(settings.gocardless_base_url),
        gocardless_environment=settings.gocardless_environment,
        timeout_s=settings.processor_timeout_seconds,
    )
