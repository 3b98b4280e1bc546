"""Logger and metrics, created once per process (cold start) and shared by every module."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["MetricUnit", "logger", "metrics"]

SERVICE = "cashline"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Cashline", service=SERVICE)

# Most requests add no business metric; an empty flush is normal here, not worth a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish")
