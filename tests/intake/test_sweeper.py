"""A mail stored while its job could not be queued is processed later by the sweeper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from desklib.jobs import jobs_are_async
from tests.mails import build_mail
from tickets.intake.pipeline import process_inbound_job
from tickets.intake.store import schedule_processing, store_raw_mail
from tickets.intake.sweeper import requeue_stale_inbound
from tickets.models import InboundMail

pytestmark = pytest.mark.django_db


def make_queueing_fail(monkeypatch):
    """With Redis: queues bound to a port where nothing listens (a real ConnectionError).
    Without: the inline runner raises as an unreachable Redis would."""
    if jobs_are_async():
        import django_rq
        from redis import Redis
        from rq import Queue

        dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
        monkeypatch.setattr(django_rq, "get_queue", lambda name: Queue(name, connection=dead))
    else:
        from redis.exceptions import ConnectionError

        def unreachable(*args, **kwargs):
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        monkeypatch.setattr("tickets.intake.store.enqueue", unreachable)


def age(inbound: InboundMail, minutes: int = 10) -> None:
    InboundMail.objects.filter(pk=inbound.pk).update(
        received_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_a_mail_stored_while_redis_is_down_is_kept_and_swept_later(
    acme, monkeypatch, run_jobs, django_capture_on_commit_callbacks
):
    make_queueing_fail(monkeypatch)
    inbound = store_raw_mail(build_mail(), provider="test", envelope_recipient="acme@in.test")
    with django_capture_on_commit_callbacks(execute=True):
        schedule_processing(inbound)  # logs the failure, raises nothing
    inbound.refresh_from_db()
    assert inbound.status == "received"

    monkeypatch.undo()  # Redis is back
    age(inbound)
    with run_jobs():
        assert requeue_stale_inbound() == 1
    inbound.refresh_from_db()
    assert (inbound.status, inbound.outcome) == ("processed", "created")


def test_the_webhook_answers_2xx_when_the_job_cannot_be_queued(
    acme, client, monkeypatch, django_capture_on_commit_callbacks
):
    import base64

    make_queueing_fail(monkeypatch)
    auth = "Basic " + base64.b64encode(b"dev:dev-webhook-secret").decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/inbound/mailgun/",
            {
                "body-mime": build_mail().decode(),
                "recipient": "acme@in.test",
                "timestamp": "1764558000",
                "token": "t" * 50,
                "signature": "unchecked-without-a-signing-key",
            },
            HTTP_AUTHORIZATION=auth,
        )
    inbound = InboundMail.objects.get()
    assert response.status_code == 200, inbound.error
    assert inbound.status == "received"


def test_fresh_mails_are_left_to_their_own_jobs(acme):
    store_raw_mail(build_mail(), provider="test", envelope_recipient="acme@in.test")
    assert requeue_stale_inbound() == 0


def test_a_job_for_a_mail_already_handled_does_nothing(acme, monkeypatch):
    inbound = store_raw_mail(build_mail(to="nobody@in.test"), provider="test")
    process_inbound_job(inbound.pk)
    inbound.refresh_from_db()
    assert (inbound.outcome, inbound.attempts) == ("unrouted", 1)
    process_inbound_job(inbound.pk)  # a second, swept copy of the job
    inbound.refresh_from_db()
    assert inbound.attempts == 1


def test_the_cron_configuration_registers_the_periodic_jobs():
    from rq.cron import CronScheduler

    from psasync.sweeper import requeue_stale_writebacks
    from tests.mails import REPO
    from tickets.sla_watch import flag_sla_states

    scheduler = CronScheduler(connection=None)
    scheduler.load_config_from_file(str(REPO / "helpdesk" / "cron.py"))
    jobs = {(job.func, job.queue_name, job.interval) for job in scheduler.get_jobs()}
    assert jobs == {
        (requeue_stale_inbound, "intake", 120),
        (flag_sla_states, "default", 60),
        (requeue_stale_writebacks, "psa", 60),
    }


def test_a_mail_whose_job_still_waits_in_the_queue_is_not_queued_twice(
    acme, redis_queues, django_capture_on_commit_callbacks
):
    inbound = store_raw_mail(build_mail(), provider="test", envelope_recipient="acme@in.test")
    with django_capture_on_commit_callbacks(execute=True):
        schedule_processing(inbound)  # queued; no worker has run yet (a backlog)
    assert redis_queues["intake"].count == 1
    age(inbound)
    assert requeue_stale_inbound() == 0
    assert redis_queues["intake"].count == 1
