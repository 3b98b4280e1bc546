"""Start the local cloud and create every resource the template declares.

DynamoDB Local serves the tables; moto's server (bound to 127.0.0.1) serves S3, SQS, SES, SNS,
EventBridge and Scheduler. Resource names are the template's logical ids in kebab case.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from localcloud.dynamodb_local import free_port, start_dynamodb_local, wait_for_port
from localcloud.paths import LOCAL_STATE
from localcloud.paypal_standin import PayPalSigner
from localcloud.processor_standin import ProcessorStandIn
from localcloud.template import function_environment, load_template, local_name, resources_of_type, tables

REGION = "eu-central-1"
STAGE = "local"
# moto and DynamoDB Local accept any credentials; real ones must never be needed locally.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass
class LocalCloud:
    dynamodb_port: int = 0
    moto_port: int = 0
    region: str = REGION
    _dynamodb: subprocess.Popen[bytes] | None = None
    _moto: ThreadedMotoServer | None = None
    queue_urls: dict[str, str] = field(default_factory=dict)
    # Stand-ins of the payment processors' HTTP APIs: the debit adapters talk to them locally.
    processors: ProcessorStandIn = field(default_factory=ProcessorStandIn)
    outbox_dir: Path = field(default_factory=lambda: LOCAL_STATE / "outbox")
    # A key of its own per local cloud: two running at once (tests and a bench) must not share one.
    paypal: PayPalSigner = field(
        default_factory=lambda: PayPalSigner(Path(tempfile.mkdtemp(prefix="cashline-paypal-")))
    )

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.dynamodb_port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def start(self) -> LocalCloud:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        self.dynamodb_port = self.dynamodb_port or free_port()
        self.moto_port = self.moto_port or free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        self.processors.start()
        self.paypal.ensure()
        try:
            self._dynamodb = start_dynamodb_local(self.dynamodb_port)
            wait_for_port(self.moto_port, timeout_s=120)  # a bound, not a speed target
            self.create_resources()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._dynamodb is not None:
            self._dynamodb.terminate()
            try:
                self._dynamodb.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._dynamodb.kill()
            self._dynamodb = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self.processors.stop()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        endpoint = self.dynamodb_endpoint if service == "dynamodb" else self.aws_endpoint
        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name=self.region,
            endpoint_url=endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def create_resources(self) -> None:
        dynamodb = self.client("dynamodb")
        for table in tables():
            dynamodb.create_table(**table.create_table_kwargs(local_name(table.logical_id)))
        s3 = self.client("s3")
        for bucket in resources_of_type("AWS::S3::Bucket"):
            s3.create_bucket(
                Bucket=local_name(bucket), CreateBucketConfiguration={"LocationConstraint": self.region}
            )
        self._create_queues()
        self._connect_bucket_notifications()
        mail_from = load_template()["Parameters"]["MailFrom"]["Default"]
        ses = self.client("ses")
        ses.verify_email_identity(EmailAddress=mail_from)
        for configuration_set in resources_of_type("AWS::SES::ConfigurationSet"):
            ses.create_configuration_set(ConfigurationSet={"Name": local_name(configuration_set)})
        events = self.client("events")
        for bus_id in resources_of_type("AWS::Events::EventBus"):
            events.create_event_bus(Name=local_name(bus_id))

    def _connect_bucket_notifications(self) -> None:
        """S3 -> SQS notifications as the template declares them (moto delivers them in process)."""
        s3, sqs = self.client("s3"), self.client("sqs")
        for bucket_id, props in resources_of_type("AWS::S3::Bucket").items():
            configurations = []
            for entry in props.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
                queue_url = self.queue_urls[entry["Queue"]["Fn::GetAtt"][0]]
                arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
                configuration: dict[str, Any] = {"QueueArn": arn["QueueArn"], "Events": [entry["Event"]]}
                if "Filter" in entry:
                    configuration["Filter"] = {"Key": {"FilterRules": entry["Filter"]["S3Key"]["Rules"]}}
                configurations.append(configuration)
            if configurations:
                s3.put_bucket_notification_configuration(
                    Bucket=local_name(bucket_id),
                    NotificationConfiguration={"QueueConfigurations": configurations},
                )

    def _create_queues(self) -> None:
        sqs = self.client("sqs")
        queues = resources_of_type("AWS::SQS::Queue")
        # Dead-letter queues first: the others name them in their redrive policy.
        ordered = sorted(queues, key=lambda q: "RedrivePolicy" in queues[q])
        for queue_id in ordered:
            attributes = {"VisibilityTimeout": str(queues[queue_id].get("VisibilityTimeout", 30))}
            redrive = queues[queue_id].get("RedrivePolicy")
            if redrive:
                target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
                dlq_arn = sqs.get_queue_attributes(
                    QueueUrl=self.queue_urls[target], AttributeNames=["QueueArn"]
                )
                attributes["RedrivePolicy"] = json.dumps(
                    {
                        "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
                        "maxReceiveCount": str(redrive["maxReceiveCount"]),
                    }
                )
            name = queues[queue_id].get("QueueName") or local_name(queue_id)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self.queue_urls[queue_id] = url

    def environment(self) -> dict[str, str]:
        """The environment the template gives each function, with local names and endpoints."""
        env = {
            **FAKE_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "CASHLINE_DYNAMODB_ENDPOINT": self.dynamodb_endpoint,
            "CASHLINE_AWS_ENDPOINT": self.aws_endpoint,
            "POWERTOOLS_SERVICE_NAME": "cashline",
            "POWERTOOLS_METRICS_NAMESPACE": "Cashline",
        }
        for name, value in function_environment().items():
            if isinstance(value, dict) and "Fn::Sub" in value:
                continue  # secrets resolved by CloudFormation in AWS; the local values are set below
            env[name] = self._resolve(value)
        env.update(
            CASHLINE_STRIPE_API_KEY="sk_test_local_standin",
            CASHLINE_STRIPE_API_BASE=self.processors.stripe_base,
            CASHLINE_GOCARDLESS_ACCESS_TOKEN="local_standin_token",
            CASHLINE_GOCARDLESS_BASE_URL=self.processors.gocardless_base,
            CASHLINE_OUTBOX_DIR=str(self.outbox_dir),
            CASHLINE_SECRETS_PREFIX=f"cashline/{STAGE}",
            # Tenants' webhooks may point at this machine locally (never in AWS).
            CASHLINE_ALLOW_PRIVATE_WEBHOOKS="true",
            CASHLINE_PAYPAL_CERT_FILE=str(self.paypal.certificate_file),
            # Shorter than the stand-in's "timeout" hang, so a scripted timeout is one.
            CASHLINE_PROCESSOR_TIMEOUT_SECONDS="1",
        )
        return env

    def _resolve(self, value: Any) -> str:
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref == "Stage":
                return STAGE
            parameter = load_template().get("Parameters", {}).get(ref)
            if parameter is not None:
                return str(parameter["Default"])
            if ref in self.queue_urls:
                return self.queue_urls[ref]
            return local_name(ref)
        return str(value)

    def apply_environment(self) -> dict[str, str]:
        env = self.environment()
        os.environ.update(env)
        return env
