"""An agent in a real browser: log in, take next, log time, resolve (Playwright + Chromium)."""

import shutil
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_agent
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.models import Team, Ticket, TimeEntry

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not shutil.which("chromium"),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM
    # calls are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def work(acme):
    team = Team.objects.create(name="Night shift")
    team.clients.add(acme)
    agent = make_agent("alex", team)
    ingest(build_mail(subject="Low priority noise"))
    from tests.factories import IntakeRuleFactory

    IntakeRuleFactory(client=acme, subject_pattern="server down", set_impact=1, set_urgency=1)
    urgent = ingest(build_mail(subject="File server down at head office")).ticket
    return agent, urgent


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_an_agent_takes_next_logs_time_and_resolves(
    browser, live_server, work, tmp_path, width, height
):
    agent, urgent = work
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{live_server.url}/desk/")
    page.fill("input[name=username]", "alex")
    page.fill("input[name=password]", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/desk/")

    page.click("#take-next")
    page.wait_for_url(f"{live_server.url}/desk/tickets/{urgent.pk}/")
    assert "File server down at head office" in page.text_content("h1")
    assert page.text_content(".facts .prio").strip().startswith("P1")

    now = timezone.localtime().replace(second=0, microsecond=0)
    form = page.locator("#log-time")
    form.locator("input[name=started_at]").fill((now - timedelta(minutes=40)).strftime(LOCAL))
    form.locator("input[name=ended_at]").fill((now - timedelta(minutes=10)).strftime(LOCAL))
    form.locator("textarea[name=summary]").fill("Restarted the file server's SMB service.")
    form.locator("textarea[name=private_notes]").fill("Disk was at 99%, cleaned temp.")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("text=Time logged.")

    page.locator("#resolve textarea[name=resolution]").fill("Service restarted, shares reachable.")
    page.locator("#resolve button[type=submit]").click()
    page.wait_for_selector(f"text={urgent.reference} resolved.")
    page.screenshot(path=str(tmp_path / f"resolved-{width}.png"), full_page=True)

    # Nothing wider than the screen: usable at 1280 px and on a phone.
    page.goto(f"{live_server.url}/desk/queue/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    urgent.refresh_from_db()
    entry = TimeEntry.objects.get()
    assert (urgent.status, urgent.assignee) == ("resolved", agent)
    assert (entry.duration, entry.summary) == (
        timedelta(minutes=30),
        "Restarted the file server's SMB service.",
    )
    assert Ticket.objects.filter(status="new", assignee=None).count() == 1  # the noise waits
