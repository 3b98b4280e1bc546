"""Channels of collection campaigns: e-mail with attachments through SES, SMS through SNS, and the
delivery feedback SES sends back (bounces, complaints, deliveries) through SNS and SQS.

A send ends in one of three ways the campaign acts on differently:
- a `SentMessage`: the provider took the message (whether it arrives is told later by the feedback);
- `ChannelRefusedError`: this message will never go out this way, so the campaign falls back to another
  channel (a letter instead of an e-mail) rather than trying again;
- `ChannelUnavailableError`: the provider could not take it now (throttling, an outage), try later.
Anything else (a missing permission, a configuration set that does not exist) is our own fault and is
raised unchanged, so that it is fixed rather than silently worked around by sending letters.

In the local cloud every sent message is also written to an outbox folder, as `mailer.py` does, with
the attachments next to it, so a person can open the PDF that would have gone out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import boto3
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from cashline.adapters.aws import _CLIENT_CONFIG
from cashline.clock import Clock, system_clock

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient
    from mypy_boto3_ses.type_defs import SendRawEmailRequestTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "MAX_SMS_CHARACTERS",
    "Attachment",
    "ChannelRefusedError",
    "ChannelUnavailableError",
    "DeliveryFeedback",
    "EmailChannel",
    "OutgoingEmail",
    "SentMessage",
    "SmsChannel",
    "build_raw_email",
    "parse_ses_notification",
]

# SES refuses raw messages over 10 MB, counted after base64 (4/3 of the bytes, plus a line break every
# 76 characters). 7,000,000 bytes of attachments come to about 9.6 MB encoded, which leaves room for the
# text and headers whether SES means 10^7 bytes or 10 MiB.
MAX_ATTACHMENT_BYTES = 7_000_000
MAX_RAW_MESSAGE_BYTES = 10_000_000
# SNS splits a long text into several SMS (each billed) and refuses a publish over 1,600 characters.
MAX_SMS_CHARACTERS = 1_600

_E164 = re.compile(r"\+[1-9]\d{7,14}")  # E.164: a country code never starts with 0; 8 to 15 digits
# AWS: 1 to 11 alphanumeric characters, at least one of them a letter (an all-digit ID looks like a number).
_SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9]{1,11}")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322: printable ASCII except the colon
# Headers the message itself is built from; a custom header must not replace them.
_OWN_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "reply-to", "date", "mime-version", "content-type"}
    | {"content-transfer-encoding", "content-disposition", "message-id", "return-path", "sender"}
)
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

# Error codes that mean "not this message, not this way" (the campaign falls back to another channel).
# SES's documented code is MailFromDomainNotVerifiedException; the short form is accepted as well.
_SES_REFUSED = frozenset(
    {"MessageRejected", "MailFromDomainNotVerifiedException", "MailFromDomainNotVerified"}
)
_SNS_REFUSED = frozenset({"InvalidParameter", "OptedOut"})
# Error codes that mean "not now". A paused account or configuration set (SES does this after too many
# bounces or complaints) is here too: it hits every recipient alike and ends when someone acts, so the
# campaign waits rather than sending everyone a paid letter.
_UNAVAILABLE = frozenset(
    {"Throttling", "ThrottlingException", "Throttled", "TooManyRequestsException", "RequestLimitExceeded"}
    | {"ServiceUnavailable", "InternalFailure", "InternalError", "KMSThrottling"}
    | {"AccountSendingPausedException", "ConfigurationSetSendingPausedException"}
)


class ChannelRefusedError(Exception):
    """The provider will not deliver this message this way (a definite failure): fall back."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class ChannelUnavailableError(Exception):
    """The provider could not take the message now: retry later, the message was not refused."""


@dataclass(frozen=True, slots=True)
class SentMessage:
    provider_id: str  # SES's MessageId (what the feedback's mail.messageId names) or SNS's MessageId
    channel: Literal["email", "sms"] = "email"


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    # Whose message it is: the local outbox (`GET /v1/dev/outbox`) shows a tenant only its own.
    tenant_id: str
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # Extra headers such as "X-Cashline-Message-Id"; SES keeps them and returns them in the feedback when
    # the identity is set to include the original headers.
    headers: dict[str, str] = field(default_factory=dict, hash=False)


# ---------------------------------------------------------------------------------------------- e-mail


@lru_cache(maxsize=4)
def _ses(region: str, endpoint: str | None) -> SESClient:
    return boto3.client("ses", region_name=region, endpoint_url=endpoint, config=_CLIENT_CONFIG)


@lru_cache(maxsize=4)
def _sns(region: str, endpoint: str | None) -> SNSClient:
    return boto3.client("sns", region_name=region, endpoint_url=endpoint, config=_CLIENT_CONFIG)


def build_raw_email(email: OutgoingEmail, *, sender: str, sent_at: datetime) -> bytes:
    """The MIME message as SES's SendRawEmail takes it: UTF-8 text, attachments in base64, CRLF lines."""
    _check_email(email)
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject  # encoded as RFC 2047 by the policy when it is not ASCII
    message["Date"] = format_datetime(sent_at)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    for name, value in email.headers.items():
        message[name] = value  # the policy refuses line breaks in a value (no header injection)
    # Quoted-printable keeps the raw message 7-bit clean (some relays still mangle 8-bit bodies) while
    # the text stays readable in the raw source.
    message.set_content(email.text, charset="utf-8", cte="quoted-printable")
    for attachment in email.attachments:
        maintype, subtype = attachment.content_type.split("/", 1)
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message.as_bytes()


def _check_email(email: OutgoingEmail) -> None:
    total = sum(len(attachment.data) for attachment in email.attachments)
    if total > MAX_ATTACHMENT_BYTES:
        raise ValueError(
            f"attachments of {total:,} bytes exceed the {MAX_ATTACHMENT_BYTES:,} bytes an e-mail may carry"
        )
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if not maintype or not subtype:
            raise ValueError(
                f"content type {attachment.content_type!r} of {attachment.filename!r} is not type/subtype"
            )
        if not attachment.filename.strip():
            raise ValueError("an attachment needs a file name")
    for name in email.headers:
        if not _HEADER_NAME.fullmatch(name) or name.lower() in _OWN_HEADERS:
            raise ValueError(f"{name!r} cannot be set as a custom header")


class EmailChannel:
    def __init__(
        self,
        *,
        sender: str,
        region: str,
        endpoint: str | None,
        outbox: Path | None,
        configuration_set: str | None = None,
        clock: Clock = system_clock,
    ):
        self.sender = sender
        self.configuration_set = configuration_set  # where SES publishes bounce/complaint/delivery events
        self._region, self._endpoint = region, endpoint
        self._outbox = outbox
        self._clock = clock

    @property
    def client(self) -> SESClient:
        # Looked up on first use, so that a message refused by our own checks costs no client.
        return _ses(self._region, self._endpoint)

    def send(self, email: OutgoingEmail) -> SentMessage:
        sent_at = self._clock()
        raw = build_raw_email(email, sender=self.sender, sent_at=sent_at)
        if len(raw) > MAX_RAW_MESSAGE_BYTES:  # a very long text on top of large attachments
            raise ValueError(
                f"the message is {len(raw):,} bytes, SES takes at most {MAX_RAW_MESSAGE_BYTES:,}"
            )
        request: SendRawEmailRequestTypeDef = {
            # SES wants these two in 7-bit ASCII: a display name such as "Müller" goes as an RFC 2047
            # encoded word, and the envelope recipient needs only the address (the To header has the name).
            "Source": formataddr(parseaddr(self.sender), charset="utf-8"),
            "Destinations": [parseaddr(email.to)[1]],
            "RawMessage": {"Data": raw},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        answer = _call(lambda: self.client.send_raw_email(**request), _SES_REFUSED)
        sent = SentMessage(provider_id=answer["MessageId"], channel="email")
        if self._outbox is not None:
            _write_email_to_outbox(self._outbox, email, sent, sent_at)
        return sent


# ------------------------------------------------------------------------------------------------- SMS


class SmsChannel:
    def __init__(
        self,
        *,
        region: str,
        endpoint: str | None,
        sender_id: str | None = None,
        outbox: Path | None,
        clock: Clock = system_clock,
    ):
        if sender_id is not None and not _SENDER_ID.fullmatch(sender_id):
            raise ValueError(f"sender ID {sender_id!r} must be 1-11 letters or digits, at least one a letter")
        self.sender_id = sender_id
        self._region, self._endpoint = region, endpoint
        self._outbox = outbox
        self._clock = clock

    @property
    def client(self) -> SNSClient:
        return _sns(self._region, self._endpoint)

    def send(self, phone_e164: str, text: str, *, message_ref: str, tenant_id: str) -> SentMessage:
        """`message_ref` is ours (the campaign step): SNS has no field for it, so it goes to the outbox."""
        if not _E164.fullmatch(phone_e164):
            raise ValueError(f"{phone_e164!r} is not an E.164 phone number (+ and 8 to 15 digits)")
        if not text.strip():
            raise ValueError("an SMS needs a text")
        if len(text) > MAX_SMS_CHARACTERS:
            raise ValueError(
                f"an SMS text has at most {MAX_SMS_CHARACTERS:,} characters, this one {len(text):,}"
            )
        # SNS does not deliver to a number that answered STOP; asking first turns that into a refusal the
        # campaign can fall back on, instead of a message id for an SMS that never arrives.
        opted_out = _call(
            lambda: self.client.check_if_phone_number_is_opted_out(phoneNumber=phone_e164), _SNS_REFUSED
        )
        if opted_out["isOptedOut"]:
            raise ChannelRefusedError("opted out")
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            # Transactional: routed for reliability and sent at any hour, even to numbers on
            # do-not-disturb lists where a country allows it for transactional messages.
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        }
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        sent_at = self._clock()
        answer = _call(
            lambda: self.client.publish(PhoneNumber=phone_e164, Message=text, MessageAttributes=attributes),
            _SNS_REFUSED,
        )
        sent = SentMessage(provider_id=answer["MessageId"], channel="sms")
        if self._outbox is not None:
            record = {
                "channel": "sms",
                "tenant_id": tenant_id,
                "to": phone_e164,
                "text": text,
                "message_ref": message_ref,
                "sender_id": self.sender_id,
                "provider_id": sent.provider_id,
                "sent_at": sent_at.isoformat(),
            }
            _outbox_stem(self._outbox, sent, sent_at).with_suffix(".json").write_text(
                json.dumps(record, indent=2)
            )
        return sent


T = TypeVar("T")


def _call(request: Callable[[], T], refused_codes: frozenset[str]) -> T:
    """Runs one provider request, turning its failures into the two the campaign acts on."""
    try:
        return request()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in refused_codes:
            raise ChannelRefusedError(f"{code}: {message}" if message else code) from error
        if code in _UNAVAILABLE or status >= 500:
            raise ChannelUnavailableError(f"{code or status}: {message}") from error
        raise
    except (BotoConnectionError, HTTPClientError) as error:
        # No connection, or no answer: botocore has already retried. A read timeout leaves open whether
        # the provider took the message, so a later retry may send it twice; for a reminder that is
        # better than never sending it.
        raise ChannelUnavailableError(str(error)) from error


# ----------------------------------------------------------------------------------------------- outbox


def _outbox_stem(outbox: Path, sent: SentMessage, sent_at: datetime) -> Path:
    outbox.mkdir(parents=True, exist_ok=True)
    # Like mailer.py: the time first, so the newest sort last; the provider id makes the name unique.
    return outbox / f"{sent_at.strftime('%Y%m%dT%H%M%S')}-{sent.provider_id}"


def _write_email_to_outbox(outbox: Path, email: OutgoingEmail, sent: SentMessage, sent_at: datetime) -> None:
    stem = _outbox_stem(outbox, sent, sent_at)
    # Attachments go into a folder named like the JSON file: `read_outbox` reads every *.json in the
    # outbox, and an attachment of that name must not be taken for a message.
    names = _safe_filenames(attachment.filename for attachment in email.attachments)
    if email.attachments:
        stem.mkdir(exist_ok=True)
        for attachment, name in zip(email.attachments, names, strict=True):
            (stem / name).write_bytes(attachment.data)
    record = {
        "channel": "email",
        "tenant_id": email.tenant_id,
        "to": email.to,
        "subject": email.subject,
        "text": email.text,
        "reply_to": email.reply_to,
        "headers": email.headers,
        "attachments": [
            {
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "size": len(attachment.data),
                "path": f"{stem.name}/{name}",
            }
            for attachment, name in zip(email.attachments, names, strict=True)
        ],
        "provider_id": sent.provider_id,
        "sent_at": sent_at.isoformat(),
    }
    stem.with_suffix(".json").write_text(json.dumps(record, ensure_ascii=False, indent=2))


def _safe_filenames(filenames: Iterable[str]) -> list[str]:
    """File names that stay inside the attachment folder ("../x" cannot escape) and do not collide."""
    names: list[str] = []
    for filename in filenames:
        name = _UNSAFE_FILENAME.sub("_", Path(filename).name).lstrip(".") or "attachment"
        candidate, n = name, 1
        while candidate in names:
            n += 1
            candidate = f"{n}-{name}"
        names.append(candidate)
    return names


# --------------------------------------------------------------------------------------------- feedback


@dataclass(frozen=True, slots=True)
class DeliveryFeedback:
    provider_id: str  # SES's MessageId of the sent message, as `SentMessage.provider_id`
    outcome: Literal["delivered", "bounced", "complained", "failed"]
    # True when sending to this address again would end the same way: a permanent bounce, a complaint
    # (the person asked not to be mailed), a rejected message. False for a delivery and a transient bounce.
    permanent: bool
    recipient: str | None
    detail: str | None  # the receiving server's answer, the complaint type, SES's reason
    at: datetime


@dataclass(frozen=True, slots=True)
class _Mail:
    provider_id: str
    destination: list[str]
    at: datetime


def parse_ses_notification(sqs_body: str) -> list[DeliveryFeedback]:
    """The feedback in one SQS message from the SES feedback topic, one entry per affected recipient.

    The body is SNS's envelope around SES's JSON, or SES's JSON itself when the subscription uses raw
    message delivery. Both SES formats are read: identity notifications (`notificationType`) and
    configuration-set event publishing (`eventType`). Types that say nothing final about a recipient
    (Send, Open, Click, DeliveryDelay, SNS's subscription confirmations) give an empty list; a body that
    is not JSON, or a known type without its fields, raises ValueError.
    """
    document = _json_object(sqs_body, "SQS message body")
    if "Type" in document and "Message" in document:  # SNS's envelope
        if document["Type"] != "Notification":  # SubscriptionConfirmation, UnsubscribeConfirmation
            return []
        if not isinstance(document["Message"], str):
            raise ValueError("SNS envelope whose Message is not a string")
        document = _json_object(document["Message"], "SNS Message")
    kind = document.get("eventType", document.get("notificationType"))
    reader = _READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        return []
    return reader(document, _mail(document))


def _bounce(event: dict[str, Any], mail: _Mail) -> list[DeliveryFeedback]:
    bounce = _object(event, "bounce")
    bounce_type = bounce.get("bounceType")  # Permanent, Transient or Undetermined
    kind = "/".join(str(part) for part in (bounce_type, bounce.get("bounceSubType")) if part)
    at = _time(bounce.get("timestamp"), mail.at)
    return [
        DeliveryFeedback(
            provider_id=mail.provider_id,
            outcome="bounced",
            # An Undetermined bounce is not treated as permanent: a dunning address is worth another try.
            permanent=bounce_type == "Permanent",
            recipient=_address(recipient),
            detail=_join(kind, recipient.get("diagnosticCode") if recipient else None),
            at=at,
        )
        for recipient in _recipients(bounce, "bouncedRecipients")
    ]


def _complaint(event: dict[str, Any], mail: _Mail) -> list[DeliveryFeedback]:
    complaint = _object(event, "complaint")
    # complaintSubType OnAccountSuppressionList: SES did not even send, the address complained before.
    detail = complaint.get("complaintFeedbackType") or complaint.get("complaintSubType")
    at = _time(complaint.get("timestamp"), mail.at)
    return [
        DeliveryFeedback(mail.provider_id, "complained", True, _address(recipient), detail, at)
        for recipient in _recipients(complaint, "complainedRecipients")
    ]


def _delivery(event: dict[str, Any], mail: _Mail) -> list[DeliveryFeedback]:
    delivery = _object(event, "delivery")
    at = _time(delivery.get("timestamp"), mail.at)
    recipients = delivery.get("recipients") or mail.destination
    if not isinstance(recipients, list):
        raise ValueError("SES delivery whose recipients are not a list")
    return [
        DeliveryFeedback(mail.provider_id, "delivered", False, recipient, delivery.get("smtpResponse"), at)
        for recipient in _addresses_or_none(recipients)
    ]


def _rejected(section: str, reason_key: str) -> Callable[[dict[str, Any], _Mail], list[DeliveryFeedback]]:
    """Reject (SES found a virus) and Rendering Failure: nothing went out, to any recipient."""

    def read(event: dict[str, Any], mail: _Mail) -> list[DeliveryFeedback]:
        details = event.get(section)
        reason = details.get(reason_key) if isinstance(details, dict) else None
        return [
            DeliveryFeedback(mail.provider_id, "failed", True, recipient, reason or section, mail.at)
            for recipient in _addresses_or_none(mail.destination)
        ]

    return read


# DeliveryDelay is left out on purpose: SES is still trying and ends with a Delivery or a Bounce, and a
# "failed" now would make the campaign send the reminder a second way while the first may still arrive.
_READERS: dict[str, Callable[[dict[str, Any], _Mail], list[DeliveryFeedback]]] = {
    "Bounce": _bounce,
    "Complaint": _complaint,
    "Delivery": _delivery,
    "Reject": _rejected("reject", "reason"),
    # SES's documented eventType has the space; the CamelCase form is accepted in case that changes.
    "Rendering Failure": _rejected("failure", "errorMessage"),
    "RenderingFailure": _rejected("failure", "errorMessage"),
}


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{what} is not JSON: {error}") from error
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"SES event without a {key!r} object")
    return value


def _mail(document: dict[str, Any]) -> _Mail:
    mail = _object(document, "mail")
    provider_id = mail.get("messageId")
    if not isinstance(provider_id, str) or not provider_id:
        raise ValueError("SES event without mail.messageId")
    destination = mail.get("destination") or []
    if not isinstance(destination, list):
        raise ValueError("SES event whose mail.destination is not a list")
    return _Mail(provider_id, [str(address) for address in destination], _time(mail.get("timestamp"), None))


def _recipients(section: dict[str, Any], key: str) -> list[dict[str, Any] | None]:
    recipients = section.get(key) or []
    if not isinstance(recipients, list) or not all(isinstance(item, dict) for item in recipients):
        raise ValueError(f"SES event whose {key} is not a list of objects")
    # A bounce or complaint without recipients still tells about the message: one entry without address.
    return list(recipients) or [None]


def _addresses_or_none(addresses: list[Any]) -> list[str | None]:
    # No addresses still tells about the message: one entry without a recipient.
    return [str(address) for address in addresses] or [None]


def _address(recipient: dict[str, Any] | None) -> str | None:
    address = recipient.get("emailAddress") if recipient else None
    return str(address) if address else None


def _time(value: object, default: datetime | None) -> datetime:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"SES event with timestamp {value!r}")
    try:
        parsed = datetime.fromisoformat(value)  # Python 3.11 reads the trailing "Z" as well
    except ValueError as error:
        raise ValueError(f"SES event with timestamp {value!r}") from error
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _join(*parts: str | None) -> str | None:
    text = ": ".join(part for part in parts if part)
    return text or None
