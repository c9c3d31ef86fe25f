"""Telling the service desk managers, by mail, what needs them now."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction

from .roles import SDM_GROUP

log = logging.getLogger(__name__)


def sdm_addresses() -> list[str]:
    users = get_user_model().objects.filter(groups__name=SDM_GROUP, is_active=True)
    return sorted({u.email for u in users if u.email})


def notify_sdms(subject: str, body: str) -> None:
    """Mail every SDM once the current transaction commits; a mail failure is logged,
    never raised (the flag on the ticket is the record; the mail is the nudge)."""

    def send() -> None:
        recipients = sdm_addresses()
        if not recipients:
            log.warning("no SDM has an email address; not sent: %s", subject)
            return
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:
            log.exception("could not mail the SDMs: %s", subject)

    transaction.on_commit(send)
