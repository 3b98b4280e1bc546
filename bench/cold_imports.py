"""Cold import of each handler module in a fresh interpreter, as a ratio to the stack's own floor.

A Lambda cold start pays the import of the handler's module. The floor is what any function on
this stack pays before a line of Cashline runs: boto3, Chalice, PynamoDB, pydantic and Powertools'
logger and metrics. The ratio says what our own code adds on top. CPU time (process time), not
wall time, so a busy machine moves the figures less; medians of fresh interpreters, all in one run,
the floor and the modules interleaved.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import dataclass

from localcloud.paths import FUNCTIONS, ROOT

# handler module -> the Lambda functions whose handler lives in it
HANDLER_MODULES = {
    "app": "APIHandler (every route)",
    "chalicelib.auth": "ApiKeyAuthorizer",
    "chalicelib.scheduled": "Housekeeping, InvoiceOverdueCheck (schedules)",
    "chalicelib.financing_schedules": "FinancingPayouts, InstallmentDebits, DebitReminders (schedules)",
    "chalicelib.queue_handlers": "DocumentUploaded (SQS)",
    "chalicelib.payment_handlers": "WebhookEventReceived (SQS), AlertDeliveries (schedule)",
    "chalicelib.collection_handlers": "CollectionSteps, TaskReminders (schedules), DeliveryFeedback (SQS)",
    "chalicelib.statement_schedules": "MonthlyStatements (schedule)",
    "chalicelib.bank_schedules": "BankMatch, PayoutBankCheck (schedules)",
    "chalicelib.bank_handlers": "BankStatementArrived (SQS)",
    "chalicelib.charge_schedules": "InvoiceCharges (schedule)",
    "chalicelib.billing_schedules": "SubscriptionBilling (schedule)",
}
# What the first event of a handler module's functions imports beyond the module itself (their
# services, the settings models, Powertools' batch utility): the module is light because it defers
# these, and the API function, which registers every module, never pays them. A sweep's own Lambda
# does, on its first tick: this column says how much, so the deferral is not mistaken for a saving.
FIRST_EVENT = {
    "chalicelib.scheduled": "cashline.services.invoices, cashline.services.housekeeping",
    "chalicelib.financing_schedules": "cashline.services.debits, cashline.services.debit_reminders",
    "chalicelib.queue_handlers": "cashline.services.documents, aws_lambda_powertools.utilities.batch",
    "chalicelib.payment_handlers": "cashline.services.webhooks, cashline.services.alerts, "
    "cashline.services.payments.events, aws_lambda_powertools.utilities.batch",
    "chalicelib.collection_handlers": "cashline.services.collections.sweep, "
    "cashline.services.collections.tasks, cashline.services.collections.feedback, "
    "aws_lambda_powertools.utilities.batch",
    "chalicelib.statement_schedules": "cashline.services.statements",
    "chalicelib.bank_schedules": "cashline.services.bank.matching, cashline.services.bank.bank_check_sweep",
    "chalicelib.bank_handlers": "cashline.services.documents, cashline.services.bank.inbox, "
    "aws_lambda_powertools.utilities.batch",
    "chalicelib.charge_schedules": "cashline.services.billing.charging",
    "chalicelib.billing_schedules": "cashline.services.billing.scheduled_changes, "
    "cashline.services.billing.issuing, cashline.services.billing.finalising",
}
RUNS = 7
FLOOR = ", ".join(
    (
        "boto3",
        "chalice.app",
        "pynamodb.models",
        "pydantic",
        "aws_lambda_powertools.logging",
        "aws_lambda_powertools.metrics",
    )
)
TARGET_RATIO = {"app": 1.5}  # every other handler module: 1.2


@dataclass(frozen=True)
class ImportFigure:
    module: str
    functions: str
    median_ms: float
    ratio_to_floor: float
    first_event_ms: float | None = None  # the module plus what its first event imports
    first_event_ratio: float | None = None

    @property
    def target(self) -> float:
        return TARGET_RATIO.get(self.module, 1.2)


def _import_ms(module: str) -> float:
    code = f"import time; t = time.process_time(); import {module}; print((time.process_time() - t) * 1000)"
    done = subprocess.run(
        [sys.executable, "-X", "frozen_modules=on", "-c", code],
        cwd=FUNCTIONS,
        capture_output=True,
        text=True,
        check=True,
        env={
            "PYTHONPATH": f"{FUNCTIONS}:{ROOT / 'shared'}",
            "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "0",
        },
    )
    return float(done.stdout.strip().splitlines()[-1])


def measure() -> tuple[float, list[ImportFigure]]:
    # Interleaved: each round imports the floor and then every module once, so a machine that gets
    # busier during the run slows the floor as much as the modules and the ratios stay comparable.
    first = {module: f"{module}, cashline.config_models, {extra}" for module, extra in FIRST_EVENT.items()}
    samples: dict[str, list[float]] = {name: [] for name in [FLOOR, *HANDLER_MODULES, *first.values()]}
    for _ in range(RUNS):
        for name, found in samples.items():
            found.append(_import_ms(name))
    baseline = statistics.median(samples[FLOOR])
    figures = []
    for module, functions in HANDLER_MODULES.items():
        median = statistics.median(samples[module])
        first_ms = statistics.median(samples[first[module]]) if module in first else None
        figures.append(
            ImportFigure(
                module,
                functions,
                median,
                median / baseline,
                first_ms,
                None if first_ms is None else first_ms / baseline,
            )
        )
    return baseline, figures


def main() -> None:
    """`python -m bench.cold_imports`: the table alone, without the local cloud."""
    baseline, figures = measure()
    print(f"floor: {baseline:.0f} ms CPU")
    for f in figures:
        first = "" if f.first_event_ratio is None else f"  first event x{f.first_event_ratio:.2f}"
        print(f"{f.module:36} {f.median_ms:6.0f} ms  x{f.ratio_to_floor:.2f}  (target {f.target:.1f}){first}")


if __name__ == "__main__":
    main()
