"""Start the local cloud and create every resource the template declares.

DynamoDB Local serves the tables; moto's server (bound to 127.0.0.1) serves S3, SQS, SES, SNS,
EventBridge and Scheduler. Resource names are the template's logical ids in kebab case.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from localcloud.dynamodb_local import free_port, start_dynamodb_local, wait_for_port
from localcloud.template import function_environment, local_name, resources_of_type, tables

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
        try:
            self._dynamodb = start_dynamodb_local(self.dynamodb_port)
            wait_for_port(self.moto_port, timeout_s=15)
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
            env[name] = self._resolve(value)
        return env

    def _resolve(self, value: Any) -> str:
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref == "Stage":
                return STAGE
            if ref in self.queue_urls:
                return self.queue_urls[ref]
            return local_name(ref)
        return str(value)

    def apply_environment(self) -> dict[str, str]:
        env = self.environment()
        os.environ.update(env)
        return env
