"""Inbound webhooks: anymail authenticates and parses; we store the raw mail first.

Anymail's own views parse the payload and hand a parsed message to a signal, so
a mail that breaks parsing, or a failure after parsing, would be lost or answered
with a 500 forever. These views keep anymail's authentication and payload
handling, and change the order: authenticate, store every raw mail (a 5xx only
if that fails, so the provider retries), then process. Processing failures are
recorded on the stored mail for the SDM; the provider gets its 2xx.
"""

import base64
import hashlib
import json
import logging
import re
from urllib.parse import unquote_to_bytes

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, EventType
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from anymail.webhooks.base import AnymailBasicAuthMixin
from anymail.webhooks.mailgun import MailgunBaseWebhookView, MailgunInboundWebhookView
from anymail.webhooks.mailjet import MailjetInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ..models import InboundMail, InboundStatus
from .store import schedule_processing, store_raw_mail

log = logging.getLogger(__name__)


def form_field_bytes(request: HttpRequest, name: str) -> bytes | None:
    """A multipart form field's exact bytes.

    Django decodes form fields as UTF-8 and replaces what is not, which would
    damage a raw mail in any other charset; so the field is cut from the body.
    """
    if request.content_type == "application/x-www-form-urlencoded":
        # Mailgun posts this way when the mail has no attachments.
        key = name.encode()
        for pair in request.body.split(b"&"):
            field, _, value = pair.partition(b"=")
            if unquote_to_bytes(field.replace(b"+", b" ")) == key:
                return unquote_to_bytes(value.replace(b"+", b" "))
        return None
    match = _BOUNDARY.search(request.META.get("CONTENT_TYPE", ""))
    if not request.content_type.startswith("multipart/form-data") or not match:
        return None
    field = re.compile(rb'(?<![\w-])name="%s"' % re.escape(name.encode()), re.IGNORECASE)
    for part in request.body.split(b"--" + match.group(1).encode("latin-1"))[1:]:
        head, found, content = part.partition(b"\r\n\r\n")
        if found and field.search(head):
            return content[:-2] if content.endswith(b"\r\n") else content
    return None


_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.IGNORECASE)


def raw_mime_of(esp_name: str, event, request: HttpRequest) -> tuple[bytes, bool]:
    """The mail's bytes as the provider sent them, and whether they had to be rebuilt.

    Providers that post pre-parsed fields only (Postmark without RawEmail,
    Mailgun's parsed mode) give no original: anymail's rebuilt message is kept.
    """
    esp_event = event.esp_event
    raw: bytes | None = None
    try:
        if esp_name == "Mailgun":
            raw = form_field_bytes(request, "body-mime")
            if raw is None and "body-mime" in request.POST:  # an encoding we did not expect
                raw = request.POST["body-mime"].encode("utf-8")
        elif esp_name == "SendGrid":
            raw = form_field_bytes(request, "email")
        elif esp_name == "Postmark" and esp_event.get("RawEmail"):
            raw = esp_event["RawEmail"].encode("utf-8", "surrogateescape")
        elif esp_name == "Amazon SES":
            action = esp_event.get("receipt", {}).get("action", {})
            content = esp_event.get("content")
            if action.get("type") == "SNS" and content:
                is_b64 = action.get("encoding") == "BASE64"
                raw = base64.b64decode(content) if is_b64 else content.encode("utf-8")
        elif esp_name == "SparkPost":
            content = esp_event["msys"]["relay_message"]["content"]
            mime = content["email_rfc822"]
            raw = base64.b64decode(mime) if content.get("email_rfc822_is_base64") else mime.encode()
    except (AttributeError, KeyError, TypeError, ValueError):
        log.warning(
            "%s payload without the expected raw field; keeping the parsed message", esp_name
        )
    if raw is not None:
        return raw, False
    try:
        return event.message.as_bytes(), True
    except Exception:
        return str(event.message).encode("utf-8", "surrogateescape"), True


def envelope_recipients(esp_name: str, event) -> list[str]:
    """Every envelope recipient of the delivery: a mail sent once to two clients'
    addresses is work for each. Anymail keeps only the first."""
    found: list = []
    try:
        if esp_name == "Amazon SES":
            found = list(event.esp_event.get("receipt", {}).get("recipients") or [])
        elif esp_name == "SendGrid":
            to = json.loads(event.esp_event.POST.get("envelope", "{}")).get("to") or []
            found = [to] if isinstance(to, str) else list(to)
    except (AttributeError, TypeError, ValueError):
        found = []
    found = [r for r in found if isinstance(r, str) and r.strip()]
    if not found:
        found = [getattr(event.message, "envelope_recipient", None) or ""]
    return list(dict.fromkeys(found))


def event_key(event, rebuilt: bool) -> str:
    """The provider's id for the delivery, to recognise a redelivery of a rebuilt mail.

    Where the provider gives none (Mailjet), a digest of the event's payload stands
    in: a redelivery posts the same payload.
    """
    if event.event_id:
        return str(event.event_id)
    if rebuilt and isinstance(event.esp_event, dict | list):
        payload = json.dumps(event.esp_event, sort_keys=True, default=str)
        return "payload-sha256:" + hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()
    return ""


def _unreadable(esp_name: str, payload: bytes, exc: Exception) -> None:
    """A payload we cannot read is input we did not write: keep it, show it."""
    inbound = store_raw_mail(payload, provider=esp_name, unreadable=True)
    InboundMail.objects.filter(pk=inbound.pk).update(
        status=InboundStatus.FAILED,
        error=f"The {esp_name} payload could not be read: {exc!r}",
    )
    log.warning("unreadable %s payload stored as inbound #%s", esp_name, inbound.pk)


class StoreFirstInboundMixin:
    """Replaces anymail's post(): authenticate, store, answer, then process."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if self.basic_auth and not request.META.get("HTTP_AUTHORIZATION"):
            # The challenge a client needs before it sends credentials (Amazon SNS does).
            response = HttpResponse(status=401)
            response["WWW-Authenticate"] = 'Basic realm="inbound mail"'
            return response
        body = request.body  # read now: the raw payload is kept if parsing it fails
        if self.basic_auth:
            AnymailBasicAuthMixin.validate_request(self, request)  # -> 400, nothing stored
        try:
            self.run_validators(request)
            events = [e for e in self.parse_events(request) if e.message is not None]
        except AnymailWebhookValidationFailure:
            raise  # a bad signature: refused (400), nothing stored
        except Exception as exc:
            _unreadable(self.esp_name, body, exc)
            return HttpResponse(status=202)
        stored = []
        for event in events:
            try:
                raw, rebuilt = raw_mime_of(self.esp_name, event, request)
                recipients = envelope_recipients(self.esp_name, event)
                key = event_key(event, rebuilt)
            except Exception as exc:  # one bad event does not hold up the others
                _unreadable(self.esp_name, _event_payload(event, body), exc)
                continue
            stored += [
                store_raw_mail(
                    raw,
                    provider=self.esp_name,
                    envelope_recipient=recipient,
                    provider_event_id=key,
                    raw_rebuilt=rebuilt,
                )
                for recipient in recipients
            ]
        for inbound in stored:
            schedule_processing(inbound)
        for bad_event, exc in getattr(request, "_unreadable_events", []):
            _unreadable(self.esp_name, bad_event, exc)
        return HttpResponse()


def _event_payload(event, body: bytes) -> bytes:
    if isinstance(event.esp_event, dict | list):
        return json.dumps(event.esp_event, default=str).encode()
    return body


def _refuse_on_error(validator):
    def validate(view, request):
        try:
            validator(view, request)
        except AnymailWebhookValidationFailure:
            raise
        except (UnicodeError, ValueError, TypeError) as exc:
            raise AnymailWebhookValidationFailure(f"signature could not be checked: {exc}") from exc

    return validate


class MailgunInbound(StoreFirstInboundMixin, MailgunInboundWebhookView):
    """Mailgun checks its signature when MAILGUN_WEBHOOK_SIGNING_KEY is set,
    and our basic-auth secret always."""

    def esp_to_anymail_event(self, request):
        post = request.POST
        if (
            "body-mime" not in post
            or "attachments" in post
            or post.get("event", "inbound") != "inbound"
        ):
            return super().esp_to_anymail_event(request)  # parsed mode, or anymail's config errors
        # Raw MIME: the intake parses the bytes itself; anymail's parse would be thrown away.
        message = AnymailInboundMessage()
        message.envelope_sender = post.get("sender")
        message.envelope_recipient = post.get("recipient")
        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=None,
            event_id=post.get("token"),
            esp_event=request,
            message=message,
        )

    def __init__(self, **kwargs):
        has_key = bool(settings.ANYMAIL.get("MAILGUN_WEBHOOK_SIGNING_KEY"))
        if not has_key:
            kwargs.setdefault("webhook_signing_key", "unused")
        super().__init__(**kwargs)
        if has_key:
            # A signature that cannot even be computed (a non-ASCII token) is not verified.
            self.validators = [
                _refuse_on_error(v) if v is MailgunBaseWebhookView.validate_request else v
                for v in self.validators
            ]
        else:
            self.validators = [
                v for v in self.validators if v is not MailgunBaseWebhookView.validate_request
            ]
            if AnymailBasicAuthMixin.validate_request not in self.validators:
                self.validators.insert(0, AnymailBasicAuthMixin.validate_request)


class PostmarkInbound(StoreFirstInboundMixin, PostmarkInboundWebhookView):
    pass


class AmazonSESInbound(StoreFirstInboundMixin, AmazonSESInboundWebhookView):
    pass


class SendGridInbound(StoreFirstInboundMixin, SendGridInboundWebhookView):
    pass


class MailjetInbound(StoreFirstInboundMixin, MailjetInboundWebhookView):
    pass


class SparkPostInbound(StoreFirstInboundMixin, SparkPostInboundWebhookView):
    def parse_events(self, request):
        """Each relay event on its own: a bad one is kept as unreadable, the rest go on."""
        raw_events = json.loads(request.body.decode("utf-8"))
        if not isinstance(raw_events, list):
            raise TypeError(f"expected a list of events, got {type(raw_events).__name__}")
        events, bad = [], []
        for raw_event in raw_events:
            try:
                event_class, event, raw = self.unwrap_event(raw_event)
                if event is not None:  # an empty "ping"
                    events.append(self.esp_to_anymail_event(event_class, event, raw))
            except Exception as exc:
                bad.append((json.dumps(raw_event, default=str).encode(), exc))
        if bad and not events:
            raise bad[0][1]
        request._unreadable_events = bad
        return events

    def esp_to_anymail_event(self, event_class, event, raw_event):
        # Anymail decodes a base64 relayed mail as UTF-8 and fails on any other
        # charset. Latin-1 maps every byte, so it always parses; the bytes we store
        # are read from the untouched payload by raw_mime_of.
        content = event.get("content", {}) if event_class == "relay_message" else {}
        if content.get("email_rfc822_is_base64"):
            mime = base64.b64decode(content["email_rfc822"]).decode("latin-1")
            content = {**content, "email_rfc822": mime, "email_rfc822_is_base64": False}
            event = {**event, "content": content}
        return super().esp_to_anymail_event(event_class, event, raw_event)


# Providers whose inbound webhook needs nothing beyond our basic-auth secret (and
# Mailgun's optional signing key). Brevo needs an API key, and Postal, Resend,
# Mandrill and MailerSend sign with keys of their own: add them here, with their
# settings, when one is used.
INBOUND_VIEWS = {
    "mailgun": MailgunInbound,
    "postmark": PostmarkInbound,
    "amazon_ses": AmazonSESInbound,
    "sendgrid": SendGridInbound,
    "mailjet": MailjetInbound,
    "sparkpost": SparkPostInbound,
}
