"""A missing Java or Node gives a clear message, not a stack trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud import dynamodb_local
from localcloud.cli import main


def test_missing_java_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamodb_local.shutil, "which", lambda name: None)
    with pytest.raises(dynamodb_local.LocalCloudError, match="Java 17"):
        dynamodb_local.java_binary()


def test_missing_node_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dynamodb_local, "NODE_MODULES", tmp_path)
    monkeypatch.setattr(dynamodb_local.shutil, "which", lambda name: None)
    with pytest.raises(dynamodb_local.LocalCloudError, match=r"Node\.js and npm"):
        dynamodb_local.find_jar()


def test_an_uninstalled_jar_points_to_make_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dynamodb_local, "NODE_MODULES", tmp_path)
    monkeypatch.setattr(dynamodb_local.shutil, "which", lambda name: f"/usr/bin/{name}")
    with pytest.raises(dynamodb_local.LocalCloudError, match="make setup"):
        dynamodb_local.find_jar()


def test_the_cli_prints_one_line_without_a_cloud(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CASHLINE_TABLE_NAME", raising=False)
    monkeypatch.setattr("localcloud.cli.LOCAL_STATE", tmp_path)
    assert main(["tenant", "create", "Acme"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("cashline: no Cashline environment") and "make run" in error
    assert "Traceback" not in error
