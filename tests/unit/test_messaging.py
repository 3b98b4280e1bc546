"""Campaign channels: e-mail (SES raw) and SMS (SNS) under moto in-process, botocore's Stubber for the
provider's refusals moto never gives, and SES feedback parsed from the sample records of AWS's SES
developer guide (notification examples and event publishing examples), written out below."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from cashline.adapters import messaging
from cashline.adapters.messaging import (
    MAX_ATTACHMENT_BYTES,
    Attachment,
    ChannelRefusedError,
    ChannelUnavailableError,
    DeliveryFeedback,
    EmailChannel,
    OutgoingEmail,
    SentMessage,
    SmsChannel,
    build_raw_email,
    parse_ses_notification,
)
from cashline.clock import fixed_clock

REGION = "eu-central-1"
SENDER = "Cashline Forderungen <mahnung@cashline.example>"
WHEN = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
# Not a whole PDF, but its first bytes and every byte value: base64 must carry all of them unchanged.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
SUBJECT = "Zahlungserinnerung: Rechnung 2025-0042 über 1.250,00 €"
TEXT = (
    "Sehr geehrte Frau Müller,\n\n"
    "unsere Rechnung 2025-0042 über 1.250,00 € ist seit dem 28.02.2025 fällig.\n"
    "Bitte überweisen Sie den Betrag bis zum 21.03.2025.\n\n"
    "Mit freundlichen Grüßen\nIhre Buchhaltung\n"
)


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Never the developer's own credentials, even though nothing here reaches AWS.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # The clients are cached per process; a test must not inherit another test's Stubber or hooks.
    messaging._ses.cache_clear()
    messaging._sns.cache_clear()
    yield
    messaging._ses.cache_clear()
    messaging._sns.cache_clear()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        boto3.client("ses", region_name=REGION).verify_domain_identity(Domain="cashline.example")
        yield


def reminder(**changes: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "to": "Erika Müller <erika.mueller@kunde.example>",
        "subject": SUBJECT,
        "text": TEXT,
        "tenant_id": "ten_1",
        "reply_to": "buchhaltung@cashline.example",
        "attachments": (Attachment("Rechnung-2025-0042.pdf", "application/pdf", PDF),),
        "headers": {"X-Cashline-Message-Id": "msg_01HQ3Z"},
    }
    return OutgoingEmail(**(fields | changes))


def email_channel(outbox: Path | None = None, **options: Any) -> EmailChannel:
    return EmailChannel(
        sender=SENDER, region=REGION, endpoint=None, outbox=outbox, clock=fixed_clock(WHEN), **options
    )


def sent_raw_messages() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


# ------------------------------------------------------------------------------------------------ e-mail


def test_email_goes_out_as_mime_with_utf8_text_and_the_pdf(aws: None) -> None:
    sent = email_channel().send(reminder())

    assert sent.channel == "email"
    [raw] = sent_raw_messages()
    assert raw.id == sent.provider_id
    assert raw.source == SENDER
    assert raw.destinations[0] == "erika.mueller@kunde.example"
    parsed = email.message_from_string(raw.raw_data, policy=email.policy.default)
    assert parsed["Subject"] == SUBJECT
    assert parsed["From"] == SENDER
    assert parsed["To"] == "Erika Müller <erika.mueller@kunde.example>"
    assert parsed["Reply-To"] == "buchhaltung@cashline.example"
    assert parsed["X-Cashline-Message-Id"] == "msg_01HQ3Z"
    assert parsed["Date"] == "Fri, 14 Mar 2025 09:26:53 +0000"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content_charset() == "utf-8"
    assert body.get_content().replace("\r\n", "\n") == TEXT  # a mail's lines end in CRLF on the wire
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "Rechnung-2025-0042.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_content() == PDF


def test_raw_message_is_ascii_with_crlf_lines() -> None:
    # SES wants an RFC 5322 message: no bare 8-bit bytes in the headers or body, CRLF line ends.
    raw = build_raw_email(reminder(), sender=SENDER, sent_at=WHEN)
    raw.decode("ascii")
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_non_ascii_attachment_name_survives(aws: None) -> None:
    attachment = Attachment("Mahnung Müller €.pdf", "application/pdf", PDF)
    email_channel().send(reminder(attachments=(attachment,)))

    [raw] = sent_raw_messages()
    [part] = email.message_from_string(raw.raw_data, policy=email.policy.default).iter_attachments()
    assert part.get_filename() == "Mahnung Müller €.pdf"


def test_outbox_has_the_message_as_json_and_the_pdf_next_to_it(aws: None, tmp_path: Path) -> None:
    sent = email_channel(outbox=tmp_path).send(reminder())

    [record_file] = tmp_path.glob("*.json")
    assert record_file.name == f"20250314T092653-{sent.provider_id}.json"
    record = json.loads(record_file.read_text())
    assert record["channel"] == "email"
    assert record["tenant_id"] == "ten_1"  # the local outbox shows a tenant only its own messages
    assert record["to"] == "Erika Müller <erika.mueller@kunde.example>"
    assert record["subject"] == SUBJECT
    assert record["text"] == TEXT
    assert record["provider_id"] == sent.provider_id
    assert record["sent_at"] == "2025-03-14T09:26:53+00:00"
    assert record["headers"] == {"X-Cashline-Message-Id": "msg_01HQ3Z"}
    [listed] = record["attachments"]
    assert listed["filename"] == "Rechnung-2025-0042.pdf"
    assert listed["size"] == len(PDF)
    assert (tmp_path / listed["path"]).read_bytes() == PDF


def test_outbox_attachment_names_cannot_escape_or_collide(aws: None, tmp_path: Path) -> None:
    attachments = (
        Attachment("../../etc/passwd.json", "text/plain", b"one"),
        Attachment("passwd.json", "text/plain", b"two"),
    )
    email_channel(outbox=tmp_path / "outbox").send(reminder(attachments=attachments))

    [record_file] = (tmp_path / "outbox").glob("*.json")  # the attachments are not taken for messages
    paths = [item["path"] for item in json.loads(record_file.read_text())["attachments"]]
    assert len(set(paths)) == 2
    saved = [(tmp_path / "outbox" / path).resolve() for path in paths]
    assert all(path.parent == record_file.with_suffix("").resolve() for path in saved)
    assert [path.read_bytes() for path in saved] == [b"one", b"two"]


def test_attachments_over_7_mb_are_refused_before_any_call(tmp_path: Path) -> None:
    channel = email_channel(outbox=tmp_path)
    half = Attachment("a.pdf", "application/pdf", b"\0" * (MAX_ATTACHMENT_BYTES // 2))
    too_much = Attachment("b.pdf", "application/pdf", b"\0" * (MAX_ATTACHMENT_BYTES // 2 + 1))
    with Stubber(channel.client) as stubber, pytest.raises(ValueError, match="7,000,000"):
        channel.send(reminder(attachments=(half, too_much)))
    stubber.assert_no_pending_responses()
    assert list(tmp_path.iterdir()) == []


def test_attachments_up_to_the_limit_fit_into_ses_raw_limit() -> None:
    full = Attachment("a.pdf", "application/pdf", bytes(range(256)) * (MAX_ATTACHMENT_BYTES // 256))
    assert len(build_raw_email(reminder(attachments=(full,)), sender=SENDER, sent_at=WHEN)) < 10_000_000


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"Subject": "something else"}, "cannot be set"),
        ({"bcc": "someone@else.example"}, "cannot be set"),
        ({"X-Bad Name": "x"}, "cannot be set"),
        ({"X-Cashline-Message-Id": "msg_1\r\nBcc: someone@else.example"}, "linefeed or carriage return"),
    ],
)
def test_custom_headers_cannot_replace_or_inject_headers(headers: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_raw_email(reminder(headers=headers), sender=SENDER, sent_at=WHEN)


def test_attachment_needs_a_full_content_type() -> None:
    with pytest.raises(ValueError, match="type/subtype"):
        build_raw_email(reminder(attachments=(Attachment("a", "pdf", PDF),)), sender=SENDER, sent_at=WHEN)


def test_configuration_set_is_named_for_the_feedback_events() -> None:
    channel = email_channel(configuration_set="cashline-collections")
    expected = {
        "Source": SENDER,
        "Destinations": ["erika.mueller@kunde.example"],
        "RawMessage": {"Data": ANY},
        "ConfigurationSetName": "cashline-collections",
    }
    with Stubber(channel.client) as stubber:
        stubber.add_response("send_raw_email", {"MessageId": "0100018e-ses-id"}, expected)
        assert channel.send(reminder()) == SentMessage("0100018e-ses-id", "email")
        stubber.assert_no_pending_responses()


def test_non_ascii_sender_name_goes_to_ses_as_an_encoded_word() -> None:
    channel = EmailChannel(
        sender="Büro Müller <mahnung@cashline.example>", region=REGION, endpoint=None, outbox=None
    )
    with Stubber(channel.client) as stubber:
        stubber.add_response(
            "send_raw_email",
            {"MessageId": "0100018e-ses-id"},
            {
                "Source": "=?utf-8?b?QsO8cm8gTcO8bGxlcg==?= <mahnung@cashline.example>",  # "Büro Müller"
                "Destinations": ["erika.mueller@kunde.example"],
                "RawMessage": {"Data": ANY},
            },
        )
        channel.send(reminder())
        stubber.assert_no_pending_responses()


def test_unverified_sender_is_a_refusal(aws: None) -> None:
    channel = EmailChannel(sender="someone@unverified.example", region=REGION, endpoint=None, outbox=None)
    with pytest.raises(ChannelRefusedError, match="MessageRejected") as raised:
        channel.send(reminder())
    assert "someone@unverified.example" in raised.value.reason


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("MessageRejected", "Email address is not verified. The following identities failed the check"),
        ("MailFromDomainNotVerifiedException", "Mail-From domain not verified"),
    ],
)
def test_ses_refusals_let_the_campaign_fall_back(code: str, message: str, tmp_path: Path) -> None:
    channel = email_channel(outbox=tmp_path)
    with Stubber(channel.client) as stubber:
        stubber.add_client_error("send_raw_email", service_error_code=code, service_message=message)
        with pytest.raises(ChannelRefusedError) as raised:
            channel.send(reminder())
    assert raised.value.reason == f"{code}: {message}"
    assert list(tmp_path.iterdir()) == []  # nothing went out, nothing in the outbox


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling", 400),  # "Maximum sending rate exceeded."
        ("AccountSendingPausedException", 400),
        ("InternalFailure", 500),
        ("", 503),
    ],
)
def test_throttling_and_outages_mean_retry_later(code: str, status: int) -> None:
    channel = email_channel()
    with Stubber(channel.client) as stubber:
        stubber.add_client_error("send_raw_email", service_error_code=code, http_status_code=status)
        with pytest.raises(ChannelUnavailableError):
            channel.send(reminder())


def test_no_connection_means_retry_later(monkeypatch: pytest.MonkeyPatch) -> None:
    channel = email_channel()

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://email.eu-central-1.amazonaws.com/")

    monkeypatch.setattr(channel.client, "send_raw_email", unreachable)
    with pytest.raises(ChannelUnavailableError, match="Could not connect"):
        channel.send(reminder())


def test_our_own_mistakes_are_not_hidden_as_refusals() -> None:
    channel = email_channel(configuration_set="does-not-exist")
    with Stubber(channel.client) as stubber:
        stubber.add_client_error("send_raw_email", service_error_code="ConfigurationSetDoesNotExist")
        with pytest.raises(ClientError, match="ConfigurationSetDoesNotExist"):
            channel.send(reminder())


# --------------------------------------------------------------------------------------------------- SMS

PHONE = "+4915112345678"
SMS = "Erinnerung: Rechnung 2025-0042 über 1.250,00 € ist fällig. Details per E-Mail. Ihre Cashline"


def sms_channel(outbox: Path | None = None, sender_id: str | None = "Cashline") -> SmsChannel:
    return SmsChannel(
        region=REGION, endpoint=None, sender_id=sender_id, outbox=outbox, clock=fixed_clock(WHEN)
    )


def published_params(channel: SmsChannel) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    channel.client.meta.events.register(
        "provide-client-params.sns.Publish", lambda params, **_: seen.append(dict(params))
    )
    return seen


def test_sms_is_published_as_transactional_with_the_sender_id(aws: None) -> None:
    channel = sms_channel()
    params = published_params(channel)

    sent = channel.send(PHONE, SMS, message_ref="camp_1/step_2", tenant_id="ten_1")

    assert sent.channel == "sms"
    assert sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages == {sent.provider_id: (PHONE, SMS)}
    [request] = params
    assert request["MessageAttributes"] == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "Cashline"},
    }


def test_sms_without_sender_id_sends_no_sender_id_attribute(aws: None) -> None:
    channel = sms_channel(sender_id=None)
    params = published_params(channel)
    channel.send(PHONE, SMS, message_ref="camp_1/step_2", tenant_id="ten_1")
    assert list(params[0]["MessageAttributes"]) == ["AWS.SNS.SMS.SMSType"]


def test_sms_outbox_file(aws: None, tmp_path: Path) -> None:
    sent = sms_channel(outbox=tmp_path).send(PHONE, SMS, message_ref="camp_1/step_2", tenant_id="ten_1")

    record = json.loads((tmp_path / f"20250314T092653-{sent.provider_id}.json").read_text())
    assert record == {
        "channel": "sms",
        "tenant_id": "ten_1",
        "to": PHONE,
        "text": SMS,
        "message_ref": "camp_1/step_2",
        "sender_id": "Cashline",
        "provider_id": sent.provider_id,
        "sent_at": "2025-03-14T09:26:53+00:00",
    }


@pytest.mark.parametrize(
    "phone",
    [
        *("015112345678", "4915112345678", "+49 151 12345678", "+49-151-12345678", "+0151123456"),
        *("+1234567", "+1234567890123456", "+49151abc5678", ""),
    ],
)
def test_phone_numbers_must_be_e164(phone: str) -> None:
    channel = sms_channel()
    with Stubber(channel.client) as stubber, pytest.raises(ValueError, match=r"E\.164"):
        channel.send(phone, SMS, message_ref="m", tenant_id="ten_1")
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("phone", ["+12025550123", "+123456789012345", "+4915112345678"])
def test_e164_numbers_of_8_to_15_digits_are_taken(aws: None, phone: str) -> None:
    sms_channel().send(phone, SMS, message_ref="m", tenant_id="ten_1")


def test_sms_text_limit_is_1600_characters(aws: None) -> None:
    channel = sms_channel()
    channel.send(PHONE, "€" * 1600, message_ref="m", tenant_id="ten_1")
    with pytest.raises(ValueError, match="1,600"):
        channel.send(PHONE, "x" * 1601, message_ref="m", tenant_id="ten_1")
    with pytest.raises(ValueError, match="needs a text"):
        channel.send(PHONE, "  ", message_ref="m", tenant_id="ten_1")


def test_sender_id_is_checked_when_the_channel_is_built() -> None:
    for bad in ("Cashline GmbH", "CashlineGmbH1", "12345", ""):
        with pytest.raises(ValueError, match="sender ID"):
            sms_channel(sender_id=bad)


def test_opted_out_number_is_refused_without_publishing(aws: None) -> None:
    channel = sms_channel()
    number = "+4915112345699"  # moto answers "opted out" for numbers ending in 99
    with pytest.raises(ChannelRefusedError) as raised:
        channel.send(number, SMS, message_ref="m", tenant_id="ten_1")
    assert raised.value.reason == "opted out"
    assert sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages == {}


@pytest.mark.parametrize("code", ["InvalidParameter", "OptedOut"])
def test_sns_refusals_let_the_campaign_fall_back(code: str) -> None:
    channel = sms_channel()
    with Stubber(channel.client) as stubber:
        stubber.add_response(
            "check_if_phone_number_is_opted_out", {"isOptedOut": False}, {"phoneNumber": PHONE}
        )
        stubber.add_client_error("publish", service_error_code=code, service_message="Invalid parameter: To")
        with pytest.raises(ChannelRefusedError, match=code):
            channel.send(PHONE, SMS, message_ref="m", tenant_id="ten_1")
        stubber.assert_no_pending_responses()


def test_sns_throttling_means_retry_later() -> None:
    channel = sms_channel()
    with Stubber(channel.client) as stubber:
        stubber.add_client_error("check_if_phone_number_is_opted_out", service_error_code="Throttled")
        with pytest.raises(ChannelUnavailableError, match="Throttled"):
            channel.send(PHONE, SMS, message_ref="m", tenant_id="ten_1")
    with Stubber(channel.client) as stubber:
        stubber.add_response("check_if_phone_number_is_opted_out", {"isOptedOut": False})
        stubber.add_client_error("publish", service_error_code="Throttling", http_status_code=400)
        with pytest.raises(ChannelUnavailableError, match="Throttling"):
            channel.send(PHONE, SMS, message_ref="m", tenant_id="ten_1")


# ---------------------------------------------------------------------------------------------- feedback
# The SES records below are AWS's examples from the SES developer guide ("Amazon SNS notification
# examples for Amazon SES" and "Examples of event data that Amazon SES publishes to Amazon SNS"), with the
# original-headers blocks shortened. The transient bounce is the guide's DSN bounce with the bounce type,
# status and diagnostic of a full mailbox.

BOUNCE_WITHOUT_DSN = """{
   "notificationType":"Bounce",
   "bounce":{
      "bounceType":"Permanent",
      "bounceSubType": "General",
      "bouncedRecipients":[
         {
            "emailAddress":"jane@example.com"
         },
         {
            "emailAddress":"richard@example.com"
         }
      ],
      "timestamp":"2016-01-27T14:59:38.237Z",
      "feedbackId":"00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000",
      "remoteMtaIp":"127.0.2.0"
   },
   "mail":{
      "timestamp":"2016-01-27T14:59:38.237Z",
      "messageId":"00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000",
      "source":"john@example.com",
      "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
      "sourceIp": "127.0.3.0",
      "sendingAccountId":"123456789012",
      "callerIdentity": "IAM_user_or_role_name",
      "destination":[
        "jane@example.com",
        "mary@example.com",
        "richard@example.com"
      ]
   }
}"""

TRANSIENT_BOUNCE_WITH_DSN = """{
   "notificationType":"Bounce",
   "bounce":{
      "bounceType":"Transient",
      "reportingMTA":"dns; email.example.com",
      "bouncedRecipients":[
         {
            "emailAddress":"jane@example.com",
            "status":"4.2.2",
            "action":"failed",
            "diagnosticCode":"smtp; 552 4.2.2 <jane@example.com>... Mailbox full"
         }
      ],
      "bounceSubType":"MailboxFull",
      "timestamp":"2016-01-27T14:59:38.237Z",
      "feedbackId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
      "remoteMtaIp":"127.0.2.0"
   },
   "mail":{
      "timestamp":"2016-01-27T14:59:38.237Z",
      "source":"john@example.com",
      "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
      "sourceIp": "127.0.3.0",
      "sendingAccountId":"123456789012",
      "callerIdentity": "IAM_user_or_role_name",
      "messageId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
      "destination":[
        "jane@example.com",
        "mary@example.com",
        "richard@example.com"],
      "headersTruncated":false,
      "headers":[
       {
         "name":"From",
         "value":"\\"John Doe\\" <john@example.com>"
       },
       {
         "name":"Subject",
         "value":"Hello"
       }
      ],
      "commonHeaders":{
         "from":[
            "John Doe <john@example.com>"
         ],
         "date":"Wed, 27 Jan 2016 14:05:45 +0000",
         "to":[
            "Jane Doe <jane@example.com>, Mary Doe <mary@example.com>, Richard Doe <richard@example.com>"
         ],
         "messageId":"custom-message-ID",
         "subject":"Hello"
       }
    }
}"""

COMPLAINT_WITH_FEEDBACK_REPORT = """{
   "notificationType":"Complaint",
   "complaint":{
      "userAgent":"AnyCompany Feedback Loop (V0.01)",
      "complainedRecipients":[
         {
            "emailAddress":"richard@example.com"
         }
      ],
      "complaintFeedbackType":"abuse",
      "arrivalDate":"2016-01-27T14:59:38.237Z",
      "timestamp":"2016-01-27T14:59:38.237Z",
      "feedbackId":"000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"
   },
   "mail":{
      "timestamp":"2016-01-27T14:59:38.237Z",
      "messageId":"000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
      "source":"john@example.com",
      "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
      "sourceIp": "127.0.3.0",
      "sendingAccountId":"123456789012",
      "callerIdentity": "IAM_user_or_role_name",
      "destination":[
         "jane@example.com",
         "mary@example.com",
         "richard@example.com"
      ]
   }
}"""

DELIVERY = """{
   "notificationType":"Delivery",
   "mail":{
      "timestamp":"2016-01-27T14:59:38.237Z",
      "messageId":"0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
      "source":"john@example.com",
      "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
      "sourceIp": "127.0.3.0",
      "sendingAccountId":"123456789012",
      "callerIdentity": "IAM_user_or_role_name",
      "destination":[
         "jane@example.com"
      ]
   },
   "delivery":{
      "timestamp":"2016-01-27T14:59:38.237Z",
      "recipients":["jane@example.com"],
      "processingTimeMillis":546,
      "reportingMTA":"a8-70.smtp-out.amazonses.com",
      "smtpResponse":"250 ok:  Message 64111812 accepted",
      "remoteMtaIp":"127.0.2.0"
   }
}"""

EVENT_REJECT = """{
  "eventType": "Reject",
  "mail": {
    "timestamp": "2017-08-05T00:41:02.669Z",
    "source": "Sender Name <sender@example.com>",
    "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
    "sendingAccountId": "123456789012",
    "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
    "destination": [
      "sender@example.com"
    ],
    "headersTruncated": false,
    "tags": {
      "ses:configuration-set": [
        "ConfigSet"
      ]
    }
  },
  "reject": {
    "reason": "Bad content"
  }
}"""

EVENT_BOUNCE = """{
  "eventType":"Bounce",
  "bounce":{
    "bounceType":"Permanent",
    "bounceSubType":"General",
    "bouncedRecipients":[
      {
        "emailAddress":"recipient@example.com",
        "action":"failed",
        "status":"5.1.1",
        "diagnosticCode":"smtp; 550 5.1.1 user unknown"
      }
    ],
    "timestamp":"2017-08-05T00:41:02.669Z",
    "feedbackId":"01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
    "reportingMTA":"dsn; mta.example.com"
  },
  "mail":{
    "timestamp":"2017-08-05T00:40:02.012Z",
    "source":"Sender Name <sender@example.com>",
    "sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
    "sendingAccountId":"123456789012",
    "messageId":"EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
    "destination":[
      "recipient@example.com"
    ],
    "headersTruncated":false,
    "tags":{
      "ses:configuration-set":[
        "ConfigSet"
      ],
      "ses:source-ip":[
        "192.0.2.0"
      ],
      "ses:from-domain":[
        "example.com"
      ],
      "ses:caller-identity":[
        "ses_user"
      ]
    }
  }
}"""

EVENT_DELIVERY_DELAY = """{
  "eventType": "DeliveryDelay",
  "mail":{
    "timestamp":"2020-06-16T00:15:40.641Z",
    "source":"sender@example.com",
    "sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
    "sendingAccountId":"123456789012",
    "messageId":"EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
    "destination":[
      "recipient@example.com"
    ],
    "headersTruncated":false,
    "tags":{
      "ses:configuration-set":[
        "ConfigSet"
      ]
    }
  },
  "deliveryDelay": {
    "timestamp": "2020-06-16T00:25:40.095Z",
    "delayType": "TransientCommunicationFailure",
    "expirationTime": "2020-06-16T00:25:40.914Z",
    "delayedRecipients": [{
      "emailAddress": "recipient@example.com",
      "status": "4.4.1",
      "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host"
    }]
  }
}"""


def sns_envelope(message: str, message_type: str = "Notification") -> str:
    """What an SQS queue subscribed to the SES feedback topic receives (no raw message delivery)."""
    return json.dumps(
        {
            "Type": message_type,
            "MessageId": "c9e0bd7f-3e1d-5b27-a6a4-5c1b2d9e0f11",
            "TopicArn": "arn:aws:sns:eu-central-1:123456789012:cashline-ses-feedback",
            "Message": message,
            "Timestamp": "2016-01-27T14:59:39.101Z",
            "SignatureVersion": "1",
            "Signature": (
                "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N"
                "858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9"
                "b5+gLPoBc1Q="
            ),
            "SigningCertURL": "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
            "UnsubscribeURL": "https://sns.eu-central-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
            "arn:aws:sns:eu-central-1:123456789012:cashline-ses-feedback:6e4a2c1b",
        }
    )


AT_2016 = datetime(2016, 1, 27, 14, 59, 38, 237000, tzinfo=UTC)


def test_permanent_bounce_gives_one_entry_per_bounced_recipient() -> None:
    feedback = parse_ses_notification(sns_envelope(BOUNCE_WITHOUT_DSN))

    message_id = "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000"
    assert feedback == [
        DeliveryFeedback(message_id, "bounced", True, "jane@example.com", "Permanent/General", AT_2016),
        DeliveryFeedback(message_id, "bounced", True, "richard@example.com", "Permanent/General", AT_2016),
    ]  # mary@example.com, also a recipient of the message, did not bounce


def test_transient_bounce_is_not_permanent_and_keeps_the_diagnostic() -> None:
    [feedback] = parse_ses_notification(sns_envelope(TRANSIENT_BOUNCE_WITH_DSN))

    assert feedback.provider_id == "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"
    assert feedback.outcome == "bounced"
    assert feedback.permanent is False
    assert feedback.recipient == "jane@example.com"
    assert feedback.detail == "Transient/MailboxFull: smtp; 552 4.2.2 <jane@example.com>... Mailbox full"


def test_complaint() -> None:
    assert parse_ses_notification(sns_envelope(COMPLAINT_WITH_FEEDBACK_REPORT)) == [
        DeliveryFeedback(
            provider_id="000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
            outcome="complained",
            permanent=True,
            recipient="richard@example.com",
            detail="abuse",
            at=AT_2016,
        )
    ]


def test_delivery() -> None:
    assert parse_ses_notification(sns_envelope(DELIVERY)) == [
        DeliveryFeedback(
            provider_id="0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
            outcome="delivered",
            permanent=False,
            recipient="jane@example.com",
            detail="250 ok:  Message 64111812 accepted",
            at=AT_2016,
        )
    ]


def test_event_publishing_reject_fails_every_recipient_for_good() -> None:
    assert parse_ses_notification(sns_envelope(EVENT_REJECT)) == [
        DeliveryFeedback(
            provider_id="EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            outcome="failed",
            permanent=True,
            recipient="sender@example.com",
            detail="Bad content",
            at=datetime(2017, 8, 5, 0, 41, 2, 669000, tzinfo=UTC),
        )
    ]


def test_raw_message_delivery_has_no_sns_envelope() -> None:
    [feedback] = parse_ses_notification(EVENT_BOUNCE)

    assert feedback.provider_id == "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    assert (feedback.outcome, feedback.permanent, feedback.recipient) == (
        "bounced",
        True,
        "recipient@example.com",
    )
    assert feedback.detail == "Permanent/General: smtp; 550 5.1.1 user unknown"
    assert feedback.at == datetime(2017, 8, 5, 0, 41, 2, 669000, tzinfo=UTC)  # the bounce's, not the send's


def test_rendering_failure_is_a_permanent_failure() -> None:
    event = json.loads(EVENT_REJECT)
    del event["reject"]
    event["eventType"] = "Rendering Failure"  # with the space, as SES's guide spells it
    event["failure"] = {
        "errorMessage": "Attribute 'attributeName' is not present in the rendering data.",
        "templateName": "MyTemplate",
    }
    [feedback] = parse_ses_notification(json.dumps(event))
    assert (feedback.outcome, feedback.permanent) == ("failed", True)
    assert feedback.detail == "Attribute 'attributeName' is not present in the rendering data."


@pytest.mark.parametrize(
    "body",
    [
        sns_envelope(EVENT_DELIVERY_DELAY),  # SES still tries; the final Delivery or Bounce follows
        sns_envelope(json.dumps(json.loads(EVENT_REJECT) | {"eventType": "Open", "open": {}})),
        sns_envelope(json.dumps({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"})),
        sns_envelope(
            "You have chosen to subscribe to the topic ...", message_type="SubscriptionConfirmation"
        ),
        json.dumps({"eventType": "Send", "mail": {}, "send": {}}),
        json.dumps({"something": "else"}),
    ],
)
def test_types_without_a_final_outcome_give_nothing(body: str) -> None:
    assert parse_ses_notification(body) == []


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("not json", "not JSON"),
        ("", "not JSON"),
        ('["a", "list"]', "not a JSON object"),
        (sns_envelope("{truncated"), "SNS Message is not JSON"),
        (json.dumps({"Type": "Notification", "Message": {"notificationType": "Bounce"}}), "not a string"),
        (json.dumps({"notificationType": "Bounce", "bounce": {}}), "'mail'"),
        (
            json.dumps({"notificationType": "Delivery", "mail": {"timestamp": "2016-01-27T14:59:38.237Z"}}),
            "messageId",
        ),
        (BOUNCE_WITHOUT_DSN.replace('"bounce":{', '"bounce_":{'), "'bounce'"),
        (DELIVERY.replace("2016-01-27T14:59:38.237Z", "yesterday"), "timestamp"),
    ],
)
def test_malformed_feedback_raises(body: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_ses_notification(body)


@pytest.mark.parametrize("raw_delivery", [False, True])
def test_feedback_arrives_through_sns_and_sqs_as_parsed(aws: None, raw_delivery: bool) -> None:
    """The envelope as SNS really writes it into SQS (moto's), with and without raw message delivery."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="cashline-ses-feedback")["TopicArn"]
    url = sqs.create_queue(QueueName="cashline-ses-feedback")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true"} if raw_delivery else {}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)

    sns.publish(TopicArn=topic, Message=COMPLAINT_WITH_FEEDBACK_REPORT)

    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    [feedback] = parse_ses_notification(message["Body"])
    assert (feedback.outcome, feedback.recipient) == ("complained", "richard@example.com")
