import pytest
from psasync.models import WriteBack

pytestmark = pytest.mark.django_db

@pytest.mark.parametrize("kind", ["connectwise", "autotask", "halopsa", "syncro"])
def test_smoke(kind, connect, log_time, run_jobs):
    sim, conn = connect(kind)
    with run_jobs():
        entry = log_time(private_notes="SECRET-123")
    wb = WriteBack.objects.get()
    print(wb.state, wb.last_error, wb.remote_id, wb.sent_payload)
    assert wb.state == "sent", wb.last_error
    assert len(sim.entries()) == 1
    assert not any("SECRET-123" in r.everything() for r in sim.requests)
