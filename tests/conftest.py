import pytest
from django.conf import settings

from desklib.jobs import jobs_are_async

from .factories import ClientFactory


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def redis_queues():
    """The real RQ queues, emptied before and after; skipped without REDIS_URL.

    Only our queues are emptied, never the whole Redis database; still, point
    REDIS_URL at a database of its own for tests (.ci/run uses /15).
    """
    if not jobs_are_async():
        pytest.skip("REDIS_URL is not set: jobs run inline (CI sets it)")
    import django_rq

    queues = {name: django_rq.get_queue(name) for name in settings.RQ_QUEUE_NAMES}

    def empty() -> None:
        for queue in queues.values():
            queue.empty()
            scheduled = queue.scheduled_job_registry  # retries waiting for their time
            for job_id in scheduled.get_job_ids():
                scheduled.remove(job_id, delete_job=True)

    empty()
    yield queues
    empty()


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run what a block schedules: its on-commit callbacks, then, with Redis, every
    queued job through a real RQ worker (in this process, so it shares the test's
    transaction). Use: `with run_jobs(): client.post(...)`."""
    from contextlib import contextmanager

    @contextmanager
    def runner():
        with django_capture_on_commit_callbacks(execute=True):
            yield
        if jobs_are_async():
            import django_rq
            from rq.worker import SimpleWorker

            queues = [django_rq.get_queue(name) for name in settings.RQ_QUEUE_NAMES]
            SimpleWorker(queues, connection=queues[0].connection).work(burst=True)

    return runner


@pytest.fixture
def acme(db):
    return ClientFactory(slug="acme", name="Acme IT", address="acme@in.test")


@pytest.fixture
def globex(db):
    return ClientFactory(slug="globex", name="Globex MSP", address="globex@in.test")
