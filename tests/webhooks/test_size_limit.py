"""A large mail gets through: Django's 2.5 MB default request limit is raised for intake."""

import hashlib
from email.message import EmailMessage

import pytest
from django.conf import settings
from django.db.models.functions import Length

from tickets.models import InboundMail

from .provider_posts import basic_auth, mailgun_raw_mime

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def mail_with_attachment(size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Pat User <pat@customer.example>"
    msg["To"] = "acme@in.test"
    msg["Subject"] = "Firewall config backup"
    msg["Message-ID"] = "<big-backup@customer.example>"
    msg.set_content("The backup is attached.")
    # Compressible content keeps the fixture cheap; base64 makes it a third larger anyway.
    msg.add_attachment(
        b"config line\n" * (size // 12),
        maintype="application",
        subtype="octet-stream",
        filename="backup.cfg",
    )
    return msg.as_bytes()


def test_the_request_limit_is_above_a_30_mb_mail():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE > 30 * MB


def test_a_mail_with_a_29_mb_attachment_is_accepted_and_stored_whole(client, acme):
    raw = mail_with_attachment(29 * MB)
    assert len(raw) > 38 * MB  # base64 in the MIME
    size, sha256 = len(raw), hashlib.sha256(raw).hexdigest()
    post = mailgun_raw_mime(raw)
    del raw  # each copy is ~40 MB; the request makes enough of its own
    response = client.post("/inbound/mailgun/", **post.kwargs(basic_auth()))
    assert response.status_code == 200
    del post, response
    # Measured by the database, so the stored column itself is checked, not our own count.
    stored = InboundMail.objects.values("raw_size", "raw_sha256", stored_length=Length("raw")).get()
    assert stored == {"raw_size": size, "raw_sha256": sha256, "stored_length": size}
