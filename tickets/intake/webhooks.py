"""Inbound webhooks: anymail authenticates and parses; we store the raw mail first.

Anymail's own views parse the payload and hand a parsed message to a signal, so
a mail that breaks parsing, or a failure after parsing, would be lost or answered
with a 500 forever. These views keep anymail's authentication and payload
handling, and change the order: authenticate, store every raw mail (a 5xx only
if that fails, so the provider retries), then process. Processing failures are
recorded on the stored mail for the SDM; the provider gets its 2xx.
"""

import base64
import logging

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from anymail.webhooks.base import AnymailBasicAuthMixin
from anymail.webhooks.brevo import BrevoInboundWebhookView
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


def raw_mime_of(esp_name: str, event) -> bytes:
    """The mail's bytes as the provider sent them, where its payload carries them.

    Otherwise (a provider's pre-parsed fields) the message anymail rebuilt from them.
    """
    esp_event = event.esp_event
    try:
        if esp_name == "Mailgun" and "body-mime" in esp_event.POST:
            return esp_event.POST["body-mime"].encode("utf-8", "surrogateescape")
        if esp_name == "SendGrid" and "email" in esp_event.POST:
            return esp_event.POST["email"].encode("utf-8", "surrogateescape")
        if esp_name == "Postmark" and esp_event.get("RawEmail"):
            return esp_event["RawEmail"].encode("utf-8", "surrogateescape")
        if esp_name == "Amazon SES":
            action = esp_event.get("receipt", {}).get("action", {})
            content = esp_event.get("content")
            if action.get("type") == "SNS" and content:
                if action.get("encoding") == "BASE64":
                    return base64.b64decode(content)
                return content.encode("utf-8", "surrogateescape")
    except (AttributeError, KeyError, TypeError, ValueError):
        log.warning("%s payload without the expected raw field; using the parsed message", esp_name)
    try:
        return event.message.as_bytes()
    except Exception:
        return event.message.as_string(policy=event.message.policy.clone(utf8=True)).encode(
            "utf-8", "surrogateescape"
        )


class StoreFirstInboundMixin:
    """Replaces anymail's post(): authenticate, store, answer, then process."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        body = request.body  # read now: the raw payload is kept if parsing it fails
        self.run_validators(request)  # AnymailWebhookValidationFailure -> 400, nothing stored
        try:
            events = list(self.parse_events(request))
        except AnymailWebhookValidationFailure:
            raise
        except Exception as exc:
            # A payload we cannot read is input we did not write: keep it, show it, answer 2xx.
            inbound = store_raw_mail(body, provider=self.esp_name, provider_event_id="unreadable")
            InboundMail.objects.filter(pk=inbound.pk).update(
                status=InboundStatus.FAILED,
                error=f"The {self.esp_name} payload could not be read: {exc!r}",
            )
            log.warning("unreadable %s payload stored as inbound #%s", self.esp_name, inbound.pk)
            return HttpResponse(status=202)
        stored = [
            store_raw_mail(
                raw_mime_of(self.esp_name, event),
                provider=self.esp_name,
                envelope_recipient=getattr(event.message, "envelope_recipient", None) or "",
                provider_event_id=event.event_id or "",
            )
            for event in events
            if event.message is not None
        ]
        for inbound in stored:
            schedule_processing(inbound)
        return HttpResponse()


class MailgunInbound(StoreFirstInboundMixin, MailgunInboundWebhookView):
    """Mailgun checks its signature when MAILGUN_WEBHOOK_SIGNING_KEY is set,
    and our basic-auth secret always."""

    def __init__(self, **kwargs):
        has_key = bool(settings.ANYMAIL.get("MAILGUN_WEBHOOK_SIGNING_KEY"))
        if not has_key:
            kwargs.setdefault("webhook_signing_key", "unused")
        super().__init__(**kwargs)
        if not has_key:
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


class BrevoInbound(StoreFirstInboundMixin, BrevoInboundWebhookView):
    pass


class SparkPostInbound(StoreFirstInboundMixin, SparkPostInboundWebhookView):
    pass


# Providers whose inbound webhook needs nothing beyond our basic-auth secret (and
# Mailgun's optional signing key). Postal, Resend, Mandrill and MailerSend sign
# with keys of their own; add them here with their settings when one is used.
INBOUND_VIEWS = {
    "mailgun": MailgunInbound,
    "postmark": PostmarkInbound,
    "amazon_ses": AmazonSESInbound,
    "sendgrid": SendGridInbound,
    "mailjet": MailjetInbound,
    "brevo": BrevoInbound,
    "sparkpost": SparkPostInbound,
}
