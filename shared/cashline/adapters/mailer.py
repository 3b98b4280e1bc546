"""E-mail through SES. In the local cloud every sent message is also written to an outbox folder,
so a person (or `GET /v1/dev/outbox`) can read what would have gone out."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from cashline.adapters.aws import _CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient


@dataclass(frozen=True, slots=True)
class Email:
    to: str
    subject: str
    text: str
    sent_at: datetime
    # Whose message it is: the local outbox (`GET /v1/dev/outbox`) shows a tenant only its own.
    tenant_id: str
    message_id: str | None = None


@lru_cache(maxsize=4)
def _ses(region: str, endpoint: str | None) -> SESClient:
    return boto3.client("ses", region_name=region, endpoint_url=endpoint, config=_CLIENT_CONFIG)


class Mailer:
    def __init__(self, *, sender: str, region: str, endpoint: str | None, outbox: Path | None):
        self.sender = sender
        self._ses = _ses(region, endpoint)
        self._outbox = outbox

    def send(self, email: Email) -> Email:
        answer = self._ses.send_email(
            Source=self.sender,
            Destination={"ToAddresses": [email.to]},
            Message={
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"}},
            },
        )
        sent = replace(email, message_id=answer["MessageId"])
        if self._outbox is not None:
            self._outbox.mkdir(parents=True, exist_ok=True)
            name = f"{email.sent_at.strftime('%Y%m%dT%H%M%S')}-{sent.message_id}.json"
            (self._outbox / name).write_text(json.dumps(asdict(sent), default=str, indent=2))
        return sent


def read_outbox(outbox: Path, tenant_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """One tenant's messages, the newest first, as written by `Mailer.send` and the reminder
    channels. A message that names no tenant is shown to none."""
    if not outbox.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for path in sorted(outbox.glob("*.json"), reverse=True):
        message = json.loads(path.read_text())
        if message.get("tenant_id") == tenant_id:
            found.append(message)
            if len(found) == limit:
                break
    return found
