"""Cold import time of each handler module in a fresh interpreter, as a ratio to `import boto3`.

A Lambda cold start pays the import of the handler's module; boto3 is the floor every Python
Lambda that talks to AWS pays anyway, so the ratio says what our own code adds on top.
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
}
RUNS = 7


@dataclass(frozen=True)
class ImportFigure:
    module: str
    functions: str
    median_ms: float
    ratio_to_boto3: float


def _import_ms(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    samples = []
    for _ in range(RUNS):
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
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def measure() -> tuple[float, list[ImportFigure]]:
    baseline = _import_ms("boto3")
    figures = [
        ImportFigure(module, functions, median, median / baseline)
        for module, functions in HANDLER_MODULES.items()
        for median in [_import_ms(module)]
    ]
    return baseline, figures
