import json
import mailbox
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.mails import REPO, build_mail
from tickets.models import InboundMail, Ticket

pytestmark = pytest.mark.django_db
KEYS = {"source", "outcome", "ticket", "client", "reason"}


def ingest_eml(*args: str) -> list[dict]:
    out = StringIO()
    call_command("ingest_eml", *args, stdout=out, stderr=StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_it_prints_one_json_object_per_mail(acme, tmp_path):
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail())
    [line] = ingest_eml(str(path))
    assert set(line) == KEYS
    ticket = Ticket.objects.get()
    assert line == {
        "source": str(path),
        "outcome": "created",
        "ticket": ticket.reference,
        "client": "acme",
        "reason": line["reason"],
    }


def test_to_plays_the_envelope_recipient(acme, tmp_path):
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail(to="someone@else.example"))
    [line] = ingest_eml("--to", "acme@in.test", str(path))
    assert (line["outcome"], line["client"]) == ("created", "acme")
    assert InboundMail.objects.get().envelope_recipient == "acme@in.test"


def test_it_reads_folders_recursively(acme, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.eml").write_bytes(build_mail(subject="a"))
    (tmp_path / "sub" / "b.eml").write_bytes(build_mail(subject="b"))
    (tmp_path / "notes.yml").write_text("not a mail")
    lines = ingest_eml(str(tmp_path))
    assert [line["outcome"] for line in lines] == ["created", "created"]


def test_it_splits_mbox_files(acme, tmp_path):
    box = mailbox.mbox(str(tmp_path / "all.mbox"))
    for n in range(3):
        box.add(build_mail(subject=f"mail {n}"))
    box.flush()
    lines = ingest_eml(str(tmp_path / "all.mbox"))
    assert [line["source"].rsplit("#", 1)[1] for line in lines] == ["1", "2", "3"]
    assert Ticket.objects.count() == 3


def test_a_duplicate_names_the_first_ticket(acme, tmp_path):
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail())
    [first] = ingest_eml(str(path))
    [second] = ingest_eml(str(path))
    assert second["outcome"] == "duplicate"
    assert second["ticket"] == first["ticket"]


def test_unrouted_mail_has_no_ticket_or_client(db, tmp_path):
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail(to="nobody@in.test"))
    [line] = ingest_eml(str(path))
    assert (line["outcome"], line["ticket"], line["client"]) == ("unrouted", None, None)


def test_a_missing_path_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No such file"):
        ingest_eml("/nonexistent/mail.eml")


def test_the_bundled_sample_mails_make_the_expected_tickets(db):
    call_command("seed_demo", stdout=StringIO())
    lines = ingest_eml(str(REPO / "samples" / "mail"))
    outcomes = {line["source"].rsplit("/", 1)[1]: line["outcome"] for line in lines}
    assert outcomes["02-nagios-disk-problem-repeat.eml"] == "folded"
    assert outcomes["03-nagios-disk-recovery.eml"] == "folded"
    assert outcomes["05-user-reply-by-references.eml"] == "threaded"
    assert outcomes["06-connectwise-update.eml"] == "threaded"
    assert outcomes["08-zabbix-resolved.eml"] == "folded"
    assert outcomes["11-out-of-office.eml"] == "threaded"
    assert outcomes["12-bounce.eml"] == "suppressed"
    assert outcomes["14-newsletter.eml"] == "suppressed"
    assert outcomes["15-unrouted.eml"] == "unrouted"
    assert list(outcomes.values()).count("created") == 6


@pytest.mark.parametrize(("files", "bar"), [(6, True), (5, False)])
def test_a_progress_bar_goes_to_stderr_for_more_than_five_files(acme, tmp_path, capsys, files, bar):
    for n in range(files):
        (tmp_path / f"{n}.eml").write_bytes(build_mail(subject=f"mail {n}"))
    out = StringIO()
    call_command("ingest_eml", str(tmp_path), stdout=out)
    assert len(out.getvalue().splitlines()) == files  # JSON lines stay on stdout
    assert (f"{files}/{files}" in capsys.readouterr().err) is bar


def test_a_failed_mail_makes_the_command_exit_non_zero_and_is_kept(acme, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("tickets.intake.pipeline.decide", boom)
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail())
    out = StringIO()
    with pytest.raises(CommandError, match="1 mail"):
        call_command("ingest_eml", str(path), stdout=out, stderr=StringIO())
    assert json.loads(out.getvalue())["outcome"] == "failed"
    assert InboundMail.objects.get().status == "failed"
