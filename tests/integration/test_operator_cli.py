"""Issue 11, finding 15: the `cashline` CLI and the local console as an operator meets them: usage
errors instead of tracebacks, an unknown tenant said so, each error logged once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.cli import main
from localcloud.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[2]


def _cashline(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, against the test session's local cloud (its CASHLINE_* env)."""
    return subprocess.run(
        [sys.executable, "-m", "localcloud.cli", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("at", ["yesterday", "2027-01-05", "2027-01-05T09:00:00", "2027-13-05T09:00:00Z"])
def test_tick_at_something_that_is_not_an_instant_is_a_usage_error(
    at: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tick", "--at", at])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "usage: cashline tick" in err and "--at" in err and "ISO 8601" in err
    assert "Traceback" not in err


def test_tick_of_an_unknown_schedule_is_a_usage_error(local_cloud: LocalCloud) -> None:
    done = _cashline("tick", "--at", "2027-01-05T09:00:00Z", "--schedule", "no_such_schedule")
    assert done.returncode == 2, done.stderr
    assert "no schedule 'no_such_schedule'" in done.stderr and "housekeeping" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_key_list_of_an_unknown_tenant_says_so_and_fails(local_cloud: LocalCloud) -> None:
    done = _cashline("key", "list", "ten_doesnotexist")
    assert done.returncode == 1
    assert "not_found" in done.stderr and "tenant" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_the_due_keys_migration_runs_against_a_stack_and_can_run_again(local_cloud: LocalCloud) -> None:
    first = _cashline("migrate", "due-keys")
    again = _cashline("migrate", "due-keys")
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0 and again.stdout.strip() == "due items moved to the current key layout: 0"


_CONSOLE_OF_CASHLINE_RUN = """
import logging
from localcloud.cli import _logs_to_stderr
_logs_to_stderr()  # what `cashline` does first: the app's JSON logger, moved to stderr
from localcloud.runner import configure_console_logging
configure_console_logging()  # what `cashline run` does next
from localcloud.handlers import load_app
load_app()  # then it imports the app (Chalice names its logger after the app: "cashline")
from cashline.observability import logger
logging.getLogger("localcloud").info("runner line")
logger.info("request served", route="GET /v1/x")
try:
    1 / 0
except ZeroDivisionError:
    logger.exception("unhandled error", route="GET /v1/x")
"""


def test_an_unhandled_error_is_logged_once_as_json_with_its_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CONSOLE_OF_CASHLINE_RUN],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    # Once: the JSON record carries the traceback; no plain copy of the record or its traceback
    assert output.count("unhandled error") == 1, output
    assert output.count("Traceback (most recent call last)") == 1, output
    [record] = [json.loads(line) for line in output.splitlines() if '"unhandled error"' in line]
    assert record["level"] == "ERROR" and "ZeroDivisionError" in record["exception"]
    # And the app's other records are there too, once, as JSON
    [served] = [json.loads(line) for line in output.splitlines() if "request served" in line]
    assert served["level"] == "INFO"
    # The runner's own lines still reach the console, as plain text
    assert "localcloud runner line" in output
