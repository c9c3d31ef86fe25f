"""Every inbound URL refuses a post without our webhook secret, and stores nothing."""

import pytest
from django.test import Client
from django.urls import get_resolver

from tests.mails import build_mail
from tickets.models import InboundMail

from . import provider_posts
from .provider_posts import basic_auth

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

# Every inbound URL and whose post it takes; a new URL must be added here (see the first test).
INBOUND_URLS = [
    ("/inbound/mailgun/", "mailgun"),
    ("/inbound/mailgun/inbound_mime/", "mailgun"),
    ("/inbound/postmark/", "postmark"),
    ("/inbound/amazon_ses/", "amazon_ses"),
    ("/inbound/sendgrid/", "sendgrid"),
    ("/inbound/mailjet/", "mailjet"),
    ("/inbound/sparkpost/", "sparkpost"),
]
EACH_URL = [pytest.param(url, provider, id=url) for url, provider in INBOUND_URLS]


def valid_post(provider: str) -> provider_posts.Post:
    """What the provider would post for a mail to Acme, credentials aside."""
    raw = build_mail()
    return {
        "mailgun": lambda: provider_posts.mailgun_raw_mime(raw),
        "postmark": lambda: provider_posts.postmark_inbound(raw),
        "amazon_ses": lambda: provider_posts.amazon_ses_sns_notification(raw),
        "sendgrid": lambda: provider_posts.sendgrid_send_raw(raw),
        "mailjet": provider_posts.mailjet_parse,
        "sparkpost": lambda: provider_posts.sparkpost_relay(raw),
    }[provider]()


@pytest.fixture
def http():
    # Answers as the provider would see them, 500s included.
    return Client(raise_request_exception=False)


def test_every_inbound_url_is_covered_here():
    routed = {
        f"/{p.pattern}"
        for p in get_resolver().url_patterns
        if f"{p.pattern}".startswith("inbound/")
    }
    assert routed == {url for url, _ in INBOUND_URLS}


@pytest.mark.parametrize(("url", "provider"), EACH_URL)
def test_a_post_without_credentials_is_refused_and_nothing_stored(
    http, run_jobs, acme, url, provider
):
    with run_jobs():
        response = http.post(url, **valid_post(provider).kwargs())
    assert 400 <= response.status_code < 500
    assert InboundMail.objects.count() == 0


@pytest.mark.parametrize(("url", "provider"), EACH_URL)
def test_a_post_with_a_wrong_password_is_refused_and_nothing_stored(
    http, run_jobs, acme, url, provider
):
    auth = basic_auth("dev:not-the-webhook-secret")
    with run_jobs():
        response = http.post(url, **valid_post(provider).kwargs(auth))
    assert 400 <= response.status_code < 500
    assert InboundMail.objects.count() == 0


@pytest.mark.parametrize(("url", "provider"), EACH_URL)
def test_the_same_post_with_the_secret_is_accepted_and_processed(
    http, run_jobs, acme, url, provider
):
    # The refusals above are down to the credentials, not to a post the view cannot read.
    with run_jobs():
        response = http.post(url, **valid_post(provider).kwargs(basic_auth()))
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert (inbound.status, inbound.outcome) == ("processed", "created")
    assert inbound.client == acme
