"""`cashline run` (what `make run` starts) as a person uses it: over HTTP, with `cashline tick`
from another process, stopped with Ctrl-C, and started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from localcloud.dynamodb_local import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
START_BOUND_S = 300


@contextmanager
def running_stack(state_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port, ddb_port, aws_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "CASHLINE_LOCAL_DYNAMODB_PORT": str(ddb_port),
        "CASHLINE_LOCAL_AWS_PORT": str(aws_port),
        "CASHLINE_LOCAL_STANDIN_PORT": str(free_port()),
        "CASHLINE_LOCAL_STATE_DIR": str(state_dir),
    }
    for name in [n for n in env if n.startswith("CASHLINE_") and not n.startswith("CASHLINE_LOCAL_")]:
        del env[name]  # the stack must set itself up, not lean on the test session's cloud
    process = subprocess.Popen(
        [sys.executable, "-m", "localcloud.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # A bound, not a figure: DynamoDB Local's JVM and the demo seed take minutes on a loaded
        # machine; a stack that exits is reported at once.
        deadline = time.monotonic() + START_BOUND_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not up yet, or too busy to answer in time
                time.sleep(0.25)
        else:
            process.kill()
            raise AssertionError(f"the stack did not come up:\n{process.communicate()[0]}")
        yield base, env
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
    assert process.returncode == 0, process.communicate()[0]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "localcloud.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_BOUND_S,  # a bound: a tick starts Python and runs every sweep, on a loaded machine
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def _ports_free(*ports: int) -> bool:
    import socket

    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return False
    return True


def test_run_serves_the_demo_ticks_on_demand_and_stops_cleanly_twice(tmp_path: Path) -> None:
    for _ in range(2):  # a second run works after the first was stopped
        with running_stack(tmp_path) as (base, env):
            demo_key = (tmp_path / "demo_api_key").read_text().strip()
            tenant = requests.get(
                f"{base}/v1/tenant", headers={"Authorization": f"Bearer {demo_key}"}, timeout=30
            )
            assert tenant.status_code == 200
            assert tenant.json()["base_currency"] == "EUR"
            assert requests.get(f"{base}/v1/tenant", timeout=30).status_code == 401

            first, again = (
                _cli(env, "tick", "--at", "2027-01-05T09:00:00Z"),
                _cli(env, "tick", "--at", "2027-01-05T09:00:00Z"),
            )
            assert '"claimed": true' in first.stdout
            assert '"claimed": false' in again.stdout

            # The operator's CLI, against the running stack: a tenant, a key, then its revocation.
            tenant_id = _cli(
                env,
                "tenant",
                "create",
                "Acme Ltd",
                "--country",
                "GB",
                "--currency",
                "GBP",
                "--timezone",
                "Europe/London",
            ).stdout.strip()
            key = _cli(env, "key", "create", tenant_id, "--role", "read_only").stdout.strip()
            as_new = requests.get(f"{base}/v1/tenant", headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert as_new.json()["base_currency"] == "GBP"
            key_id = key.split(".")[1]
            assert key_id in _cli(env, "key", "list", tenant_id).stdout
            _cli(env, "key", "revoke", tenant_id, key_id)
            assert (
                requests.get(
                    f"{base}/v1/tenant", headers={"Authorization": f"Bearer {key}"}, timeout=30
                ).status_code
                == 401
            )
            ports = (
                int(env["PORT"]),
                int(env["CASHLINE_LOCAL_DYNAMODB_PORT"]),
                int(env["CASHLINE_LOCAL_AWS_PORT"]),
            )
        assert _ports_free(*ports)


def test_a_collection_campaign_driven_by_cashline_tick(tmp_path: Path) -> None:
    """The issue's scenario through the CLI: ticks move time, the running stack sends the reminders."""
    from datetime import UTC, date, datetime, timedelta

    with running_stack(tmp_path) as (base, env):
        key = (tmp_path / "demo_api_key").read_text().strip()
        auth = {"Authorization": f"Bearer {key}"}

        def call(method: str, path: str, body: object | None = None) -> requests.Response:
            return requests.request(method, f"{base}{path}", json=body, headers=auth, timeout=30)

        plan = call(
            "POST",
            "/v1/campaigns",
            {
                "name": "E2E",
                "steps": [
                    {"offset_days": 1, "channel": "email", "attach_invoice": True, "late_charges": True},
                    {"offset_days": 3, "channel": "sms"},
                ],
            },
        ).json()
        settings = call("GET", "/v1/collection-settings").json()
        assert (
            call(
                "PUT", "/v1/collection-settings", {**settings, "default_campaign_id": plan["id"]}
            ).status_code
            == 200
        )
        debtor = call(
            "POST",
            "/v1/counterparties",
            {
                "name": "Tick Debtor GmbH",
                "email": "ap@tick.example",
                "phone": "+49 30 1234567",
                "country": "DE",
            },
        ).json()
        today = datetime.now(UTC).date()
        due = today + timedelta(days=30)
        due += timedelta(days=(7 - due.weekday()) % 7)  # a Monday: both step days are weekdays
        invoice = call(
            "POST",
            "/v1/invoices",
            {
                "direction": "receivable",
                "counterparty": {"id": debtor["id"]},
                "number": "TICK-1",
                "issue_date": str(today),
                "due_date": str(due),
                "currency": "EUR",
                "amount_due": 50_000,
            },
        ).json()

        def mails_to(address: str) -> list[dict[str, object]]:
            return [m for m in call("GET", "/v1/dev/outbox").json()["data"] if m.get("to") == address]

        def at(day: date, utc_hour: int) -> str:
            return f"{day.isoformat()}T{utc_hour:02d}:30:00Z"

        _cli(env, "tick", "--at", at(due + timedelta(days=1), 8))  # overdue, enters; 09:30 in Berlin: sent
        _cli(env, "tick", "--at", at(due + timedelta(days=1), 9))
        assert len(mails_to("ap@tick.example")) == 1
        _cli(env, "tick", "--at", at(due + timedelta(days=1), 13))  # a second sweep that day: nothing new
        assert len(mails_to("ap@tick.example")) == 1
        _cli(env, "tick", "--at", at(due + timedelta(days=3), 9))
        assert len(mails_to("+49301234567")) == 1
        paid = call(
            "POST",
            "/v1/payments",
            {
                "amount": 50_000,
                "currency": "EUR",
                "value_date": str(today),
                "invoice_id": invoice["id"],
            },
        )
        assert paid.status_code == 201
        assert call("GET", f"/v1/invoices/{invoice['id']}/collection").json()["status"] == "completed"
