"""Reading mails from files, folders and mbox files, as the command line gets them."""

import mailbox
import re
from collections.abc import Iterator
from pathlib import Path

MAIL_SUFFIXES = {".eml", ".box", ".mbox", ".mail", ".msg", ".txt"}
_FROM_LINE = re.compile(
    rb"^From \S+ +\w{3} \w{3} +\d{1,2} \d{1,2}:\d{2}(:\d{2})? .*\d{4}\s*$", re.M
)


def _is_mbox(path: Path, head: bytes) -> bool:
    if path.suffix.lower() == ".mbox":
        return True
    # A single mail saved with its mbox "From " line is not a mailbox; two such lines are.
    return head.startswith(b"From ") and len(_FROM_LINE.findall(head)) > 1


def iter_mails(paths: list[str]) -> Iterator[tuple[str, bytes]]:
    """(source, raw bytes) for each mail: files as given, folders recursively (mail
    suffixes only, sorted), mbox files split into their messages (source 'file#N')."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MAIL_SUFFIXES
            )
        else:
            files = [path]
        for file in files:
            yield from _iter_file(file)


def _iter_file(path: Path) -> Iterator[tuple[str, bytes]]:
    raw = path.read_bytes()
    if not _is_mbox(path, raw):
        yield str(path), raw
        return
    box = mailbox.mbox(str(path), create=False)
    try:
        for n, key in enumerate(box.iterkeys(), start=1):
            yield f"{path}#{n}", box.get_bytes(key)
    finally:
        box.close()
