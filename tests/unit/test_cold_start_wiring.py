"""The pieces that keep cold starts near the floor, each alone and with no network: settings models
reached through cashline.config only when needed, modules `deferred` to their first use, and the
one queue-batch helper that imports Powertools' batch utility on the first message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice.app import SQSEvent
from chalice.local import LambdaContext
from pydantic import ValidationError

from cashline import config, config_models
from chalicelib.runtime import deferred
from chalicelib.sqs_batches import each_message
from localcloud.paths import FUNCTIONS, ROOT

SAMPLE_MESSAGE = Path(__file__).parents[2] / "events" / "sqs_webhook_event_received.json"


def fresh_interpreter(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=FUNCTIONS,
        env={"PYTHONPATH": f"{FUNCTIONS}:{ROOT / 'shared'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


# --- settings ----------------------------------------------------------------------------------------


def test_config_names_the_models_without_importing_them_until_asked() -> None:
    seen = fresh_interpreter(
        "import sys; import cashline.config as c; before = 'cashline.config_models' in sys.modules; "
        "from cashline.config import ApiSettings; print(before, ApiSettings.__module__)"
    )
    assert seen == "False cashline.config_models"


def test_every_settings_model_is_reachable_through_config() -> None:
    models = [name for name in vars(config_models) if name.endswith("Settings") and not name.startswith("_")]
    assert "ApiSettings" in models and "SchedulerSettings" in models
    for name in models:
        assert getattr(config, name) is getattr(config_models, name)
    with pytest.raises(AttributeError):
        config.NoSuchSettings


SCHEDULER_ENVIRONMENT = {
    "AWS_REGION": "eu-central-1",
    "CASHLINE_STAGE": "test",
    "CASHLINE_TABLE_NAME": "cashline-test",
    "CASHLINE_IDEMPOTENCY_TABLE_NAME": "cashline-idem",
    "CASHLINE_DOCUMENTS_BUCKET": "cashline-docs",
    "CASHLINE_MAIL_FROM": "billing@example.com",
    "CASHLINE_EVENT_BUS_NAME": "cashline",
    "CASHLINE_SECRETS_PREFIX": "cashline/test/",
    "CASHLINE_AWS_ENDPOINT": "http://localhost:5000/",
}


def test_settings_are_validated_from_the_environment_once_until_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SCHEDULER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    config.reset_settings_cache()

    settings = config.scheduler_settings()

    assert isinstance(settings, config_models.SchedulerSettings)
    assert (settings.stage, settings.table_name, settings.region) == ("test", "cashline-test", "eu-central-1")
    assert config.url_text(settings.aws_endpoint) == "http://localhost:5000"
    assert config.scheduler_settings() is settings
    monkeypatch.delenv("CASHLINE_TABLE_NAME")
    config.reset_settings_cache()
    with pytest.raises(ValidationError, match="table_name"):
        config.scheduler_settings()
    config.reset_settings_cache()


def test_a_variable_is_read_in_any_case_by_its_prefixed_name_or_its_alias_and_others_ignored() -> None:
    environment = {name.lower(): value for name, value in SCHEDULER_ENVIRONMENT.items()}
    environment |= {"CASHLINE_NOT_A_SETTING": "x", "CASHLINE_REGION": "us-east-1", "HOME": "/root"}

    settings = config_models.SchedulerSettings.from_environment(environment)

    assert settings.region == "eu-central-1"  # AWS_REGION (its alias), never CASHLINE_REGION
    assert settings.mail_from == "billing@example.com"
    assert not hasattr(settings, "not_a_setting")
    with pytest.raises(ValidationError, match="stage"):
        config_models.SchedulerSettings.from_environment({**environment, "cashline_stage": "qa"})


# --- deferred modules --------------------------------------------------------------------------------


def test_a_deferred_module_is_imported_on_its_first_attribute_read() -> None:
    seen = fresh_interpreter(
        "import sys; from chalicelib.runtime import deferred; wave = deferred('wave'); "
        "before = 'wave' in sys.modules; error = wave.Error; "
        "print(before, 'wave' in sys.modules, error.__name__)"
    )
    assert seen == "False True Error"


def test_a_deferred_module_answers_as_the_module_does() -> None:
    encoder = deferred("json")
    assert encoder.dumps({"a": 1}) == json.dumps({"a": 1})
    assert repr(encoder) == "<deferred module 'json'>"
    with pytest.raises(AttributeError):
        encoder.no_such_function


# --- queue batches -----------------------------------------------------------------------------------


def sqs_event(*bodies: str) -> SQSEvent:
    sample = json.loads(SAMPLE_MESSAGE.read_text())["Records"][0]
    records = [{**sample, "messageId": f"m-{i}", "body": body} for i, body in enumerate(bodies)]
    return SQSEvent(
        {"Records": records}, context=LambdaContext("queue", memory_size=512, max_runtime_ms=30_000)
    )


class FailOn:
    """A message handler that fails on one body and notes the others it handled."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.handled: list[str] = []

    def __call__(self, record: SQSRecord) -> None:
        if record.body == self.body:
            raise RuntimeError("this message fails")
        self.handled.append(record.body)


def test_only_the_failed_messages_return_to_the_queue() -> None:
    handle = FailOn("bad")

    answer = each_message(sqs_event("one", "bad", "two"), handle)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert handle.handled == ["one", "two"]


def test_a_batch_that_fails_whole_raises_unless_told_to_report_it() -> None:
    with pytest.raises(BatchProcessingError):
        each_message(sqs_event("bad", "bad"), FailOn("bad"))

    answer = each_message(sqs_event("bad", "bad"), FailOn("bad"), raise_when_all_fail=False)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}
