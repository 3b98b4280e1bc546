"""Issue 11, finding 15: `cashline run` as an operator meets it: a quiet console (no metric lines,
each record once), and a plain SIGTERM stops everything, DynamoDB Local's Java process included."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from localcloud.dynamodb_local import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e

START_S = 300  # DynamoDB Local's JVM and the demo seed on a loaded machine; a bound, not a figure
STOP_S = 30


def _children(pid: int) -> dict[int, str]:
    """The direct children of `pid` and their command lines, from /proc (Linux)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_until(condition: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.2)
    return False


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/v1/health", timeout=2).status_code == 200
    except requests.RequestException:  # not up yet, or too busy to answer in time
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads child processes from /proc")
def test_sigterm_stops_the_stack_and_its_java_process_and_the_console_stays_readable(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("CASHLINE_")},
        "PORT": str(port),
        "CASHLINE_LOCAL_DYNAMODB_PORT": str(free_port()),
        "CASHLINE_LOCAL_AWS_PORT": str(free_port()),
        "CASHLINE_LOCAL_STANDIN_PORT": str(free_port()),
        "CASHLINE_LOCAL_STATE_DIR": str(tmp_path),
    }
    env.pop("POWERTOOLS_METRICS_DISABLED", None)  # the runner must quiet the metrics itself
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
        # Given a running stack with DynamoDB Local as its Java child
        assert _wait_until(lambda: process.poll() is not None or _healthy(base), START_S)
        assert process.poll() is None, "the stack exited while starting"
        java = [pid for pid, command in _children(process.pid).items() if "DynamoDBLocal" in command]
        assert len(java) == 1, _children(process.pid)
        # and requests that log and add metrics (a refused key counts ApiKeyRefused)
        key = (tmp_path / "demo_api_key").read_text().strip()
        assert requests.get(f"{base}/v1/tenant", timeout=10).status_code == 401
        assert requests.get(f"{base}/v1/tenant", headers={"Authorization": f"Bearer {key}"}, timeout=10).ok
        assert requests.delete(f"{base}/v1/tenant", timeout=10).status_code == 405

        # When it gets a plain SIGTERM (what `kill`, systemd or a container runtime sends)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=STOP_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    # Then it stops cleanly, and the Java process with it
    assert process.returncode == 0, output
    assert _wait_until(lambda: not _alive(java[0]), STOP_S), f"DynamoDB Local (pid {java[0]}) still runs"
    assert "stopping" in output
    # And the console has no metric lines and no plain copies of the app's JSON records
    assert '"_aws"' not in output, output
    assert "request served" in output
    plain = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ cashline |^cashline - ")  # root's or Chalice's format
    assert [line for line in output.splitlines() if plain.match(line)] == []
