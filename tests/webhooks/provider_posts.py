"""What each provider posts to our inbound URLs, built around a raw mail.

The shapes follow the providers' documented inbound payloads (Mailgun forward()
with raw MIME, SendGrid Inbound Parse "send raw", an Amazon SNS notification of
an SES receipt, Mailjet Parse API, Brevo inbound parsing, SparkPost relay).
Postmark's own sample payloads are read from the shared corpus instead.
"""

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field

WEBHOOK_SECRET = "dev:dev-webhook-secret"

# An SMTP-shaped mail (CRLF) with 8-bit latin-1 bytes: what a "keep the raw bytes" path
# must not re-encode. Not valid UTF-8, so a path that decodes it as text will show it.
LATIN1_8BIT_MAIL = (
    b"From: Jos\xe9 <jose@customer.example>\r\nTo: acme@in.test\r\n"
    b"Subject: Caf\xe9 printer\r\nMessage-ID: <latin1@customer.example>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\nLe caf\xe9 n'imprime plus.\r\n"
)


def basic_auth(secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    """The header the provider sends for a webhook URL with `user:password@` in it."""
    token = base64.b64encode(secret.encode("utf-8")).decode("ascii")
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@dataclass
class Post:
    """One request: keyword arguments for django.test.Client.post(url, **post.kwargs())."""

    data: dict | str | bytes
    content_type: str | None = None  # None: the test client's multipart form
    headers: dict[str, str] = field(default_factory=dict)

    def kwargs(self, auth: dict[str, str] | None = None) -> dict:
        kwargs = {"data": self.data, **self.headers, **(auth or {})}
        if self.content_type:
            kwargs["content_type"] = self.content_type
        return kwargs


def mailgun_signature(signing_key: str, timestamp: str, token: str) -> str:
    """Mailgun's HMAC-SHA256 of timestamp+token, keyed with the webhook signing key."""
    return hmac.new(
        signing_key.encode("ascii"), f"{timestamp}{token}".encode("ascii"), hashlib.sha256
    ).hexdigest()


def mailgun_raw_mime(
    raw: bytes,
    *,
    recipient: str = "acme@in.test",
    sender: str = "pat@customer.example",
    token: str | None = None,
    timestamp: str = "1764558000",
    signing_key: str = "not-checked-without-a-key",
) -> Post:
    """Mailgun's forward() of a route with "raw MIME": body-mime plus envelope and signature."""
    token = token or uuid.uuid4().hex
    return Post(
        {
            "recipient": recipient,
            "sender": sender,
            "from": sender,
            "body-mime": raw.decode("utf-8"),
            "timestamp": timestamp,
            "token": token,
            "signature": mailgun_signature(signing_key, timestamp, token),
        }
    )


def sendgrid_send_raw(
    raw: bytes, *, to: str = "acme@in.test", sender: str = "pat@customer.example"
) -> Post:
    """SendGrid Inbound Parse with "POST the raw, full MIME message" ticked."""
    return Post(
        {
            "email": raw.decode("utf-8"),
            "envelope": json.dumps({"to": [to], "from": sender}),
            "to": to,
            "from": sender,
            "charsets": json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}),
            "SPF": "pass",
            "spam_score": "0.1",
        }
    )


def amazon_ses_sns_notification(
    raw: bytes, *, recipient: str = "acme@in.test", sender: str = "pat@customer.example"
) -> Post:
    """An SNS Notification carrying an SES "Received" event whose receipt rule action is
    SNS with BASE64 encoding, so the mail's bytes are in `content`."""
    ses_message_id = uuid.uuid4().hex
    ses_event = {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-12-01T03:00:01.000Z",
            "source": sender,
            "messageId": ses_message_id,
            "destination": [recipient],
            "headersTruncated": False,
            "headers": [],
            "commonHeaders": {"from": [sender], "to": [recipient]},
        },
        "receipt": {
            "timestamp": "2026-12-01T03:00:01.000Z",
            "processingTimeMillis": 420,
            "recipients": [recipient],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "spfVerdict": {"status": "PASS"},
            "dkimVerdict": {"status": "PASS"},
            "dmarcVerdict": {"status": "PASS"},
            "action": {
                "type": "SNS",
                "topicArn": "arn:aws:sns:eu-west-1:123456789012:helpdesk-inbound",
                "encoding": "BASE64",
            },
        },
        "content": base64.b64encode(raw).decode("ascii"),
    }
    sns_message_id = str(uuid.uuid4())
    notification = {
        "Type": "Notification",
        "MessageId": sns_message_id,
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:helpdesk-inbound",
        "Subject": "Amazon SES Email Receipt Notification",
        "Message": json.dumps(ses_event),
        "Timestamp": "2026-12-01T03:00:02.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }
    return Post(
        json.dumps(notification),
        content_type="text/plain; charset=UTF-8",
        headers={
            "HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification",
            "HTTP_X_AMZ_SNS_MESSAGE_ID": sns_message_id,
            "HTTP_X_AMZ_SNS_TOPIC_ARN": notification["TopicArn"],
        },
    )


def postmark_inbound(raw: bytes, *, recipient: str = "acme@in.test") -> Post:
    """A Postmark inbound post reduced to what we read: RawEmail and OriginalRecipient.
    (Postmark's full sample payloads are in the shared corpus.)"""
    return Post(
        json.dumps(
            {
                "MessageID": str(uuid.uuid4()),
                "OriginalRecipient": recipient,
                "To": recipient,
                "ToFull": [{"Email": recipient, "Name": "", "MailboxHash": ""}],
                "Subject": "Printer is broken",
                "RawEmail": raw.decode("utf-8"),
                "Headers": [],
                "Attachments": [],
            }
        ),
        content_type="application/json",
    )


def mailjet_parse(*, recipient: str = "acme@in.test", sender: str = "pat@customer.example") -> Post:
    """Mailjet's Parse API post: headers and parts as JSON, no raw MIME."""
    return Post(
        json.dumps(
            {
                "Sender": sender,
                "Recipient": recipient,
                "Date": "20261201T030000",
                "From": f"Pat User <{sender}>",
                "Subject": "Printer is broken",
                "Headers": {
                    "From": f"Pat User <{sender}>",
                    "To": recipient,
                    "Subject": "Printer is broken",
                    "Date": "Tue, 01 Dec 2026 03:00:00 +0000",
                    "Message-ID": f"<{uuid.uuid4().hex}@customer.example>",
                },
                "Parts": [{"Headers": {"Content-Type": "text/plain"}, "ContentRef": "Text-part"}],
                "Text-part": "It prints blank pages.",
                "SpamAssassinScore": "0.1",
            }
        ),
        content_type="application/json",
    )


def sparkpost_relay(
    raw: bytes, *, recipient: str = "acme@in.test", sender: str = "pat@customer.example"
) -> Post:
    """SparkPost's inbound relay webhook: a batch of relay_message events, rfc822 in base64."""
    return Post(
        json.dumps(
            [
                {
                    "msys": {
                        "relay_message": {
                            "content": {
                                "email_rfc822": base64.b64encode(raw).decode("ascii"),
                                "email_rfc822_is_base64": True,
                            },
                            "friendly_from": sender,
                            "msg_from": sender,
                            "rcpt_to": recipient,
                            "webhook_id": "1234567890",
                            "protocol": "smtp",
                        }
                    }
                }
            ]
        ),
        content_type="application/json",
    )
