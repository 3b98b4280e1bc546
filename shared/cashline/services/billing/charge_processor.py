"""The processor side of a charge: the tenant's own credential (its processor connection) and the
processor's SDK (services/debits.py's adapters), asked to charge or to say how a charge went.
Every answer comes back as a value (a result or the error it ended in), never raised."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cashline.adapters.secrets import SecretStore
from cashline.config import url_text
from cashline.domain.billing.charges import NO_PROCESSOR_CONNECTION, ChargeAttempt
from cashline.domain.billing.subscriptions import PaymentMethod
from cashline.services import connections
from cashline.services.processor_clients import processor_from_settings

if TYPE_CHECKING:
    # The processor SDKs are imported when a charge is made, not at cold start (services/debits.py).
    from cashline.adapters.processors import DebitAccount, DebitProcessor
    from cashline.config import ApiSettings, SchedulerSettings
    from cashline.services.processor_clients import Outcome


class ChargeRuntime:
    """What charging needs from configuration, built once per invocation: the processors' base URLs
    (the local stand-ins locally), the timeout, and the Secrets Manager holding each tenant's
    processor credential (its processor connection: services/connections.py)."""

    def __init__(self, settings: SchedulerSettings | ApiSettings) -> None:
        self.settings = settings
        self.secrets = SecretStore(
            prefix=settings.secrets_prefix, region=settings.region, endpoint=url_text(settings.aws_endpoint)
        )

    def api_key(self, tenant_id: str, processor: str, *, now: datetime) -> str | None:
        """The tenant's API credential at `processor` (an active connection that has one), or None."""
        cursor: str | None = None
        while True:
            page = connections.list_connections(tenant_id, limit=50, starting_after=cursor)
            for connection in page.items:
                if (
                    connection.provider == processor
                    and connection.status == "active"
                    and connection.has_api_credentials
                ):
                    return connections.secrets_of(self.secrets, connection, now=now).api_key
            if page.next_cursor is None:
                return None
            cursor = page.next_cursor

    def processor(self, account: DebitAccount, api_key: str) -> DebitProcessor:
        return processor_from_settings(
            account, self.settings, stripe_api_key=api_key, gocardless_token=api_key
        )


def ask_charge(attempt: ChargeAttempt, runtime: ChargeRuntime, now: datetime) -> Outcome:
    # defer the processor SDKs (stripe, gocardless_pro: ~100 ms) to the first charge
    from cashline.adapters.processors import (
        DebitRefusedError,
        DebitTimeoutError,
        ProcessorUnavailableError,
    )

    method = attempt.payment_method
    account = _account(method)
    api_key = runtime.api_key(attempt.tenant_id, method.processor, now=now)
    if not api_key:
        return DebitRefusedError(NO_PROCESSOR_CONNECTION)
    try:
        return runtime.processor(account, api_key).start_debit(
            idempotency_key=attempt.idempotency_key,
            amount=attempt.amount or 0,
            currency=attempt.currency,
            description=f"Invoice {attempt.invoice_id}",
            account=account,
            # GoCardless allows three metadata keys: the invoice (the webhook applies the payment to
            # it), the subscription, the attempt.
            metadata={
                "cashline_invoice": attempt.invoice_id,
                "cashline_subscription": attempt.subscription_id,
                "attempt": str(attempt.attempt),
            },
        )
    except (DebitRefusedError, DebitTimeoutError, ProcessorUnavailableError) as outcome:
        return outcome


def ask_status(attempt: ChargeAttempt, runtime: ChargeRuntime, now: datetime) -> Outcome:
    # defer the processor SDKs (stripe, gocardless_pro: ~100 ms) to the first charge
    from cashline.adapters.processors import (
        DebitRefusedError,
        DebitTimeoutError,
        ProcessorUnavailableError,
    )

    method = attempt.payment_method
    api_key = runtime.api_key(attempt.tenant_id, method.processor, now=now)
    if not api_key:
        return ProcessorUnavailableError(NO_PROCESSOR_CONNECTION)  # asked again later
    try:
        return runtime.processor(_account(method), api_key).fetch_status(attempt.processor_reference or "")
    except (DebitRefusedError, DebitTimeoutError, ProcessorUnavailableError) as outcome:
        return outcome


def _account(method: PaymentMethod) -> DebitAccount:
    # defer the processor SDKs (stripe, gocardless_pro: ~100 ms) to the first charge
    from cashline.adapters.processors import DebitAccount

    return DebitAccount(
        processor=method.processor,
        customer_id=method.customer_id,
        payment_method_id=method.payment_method_id,
        mandate_id=method.mandate_id,
    )
