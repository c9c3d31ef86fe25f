"""Reading mails from files, folders and mbox files, as the command line gets them."""

import re
from collections.abc import Iterator
from pathlib import Path

MAIL_SUFFIXES = {".eml", ".box", ".mbox", ".mail", ".msg", ".txt"}
# An mbox separator: "From sender Thu Dec  3 17:00:00 2026" (a date, so that a body
# line starting with "From " is not taken for one).
_FROM_LINE = re.compile(
    rb"^From \S+ +\w{3} \w{3} +\d{1,2} \d{1,2}:\d{2}(:\d{2})? [^\r\n]*\d{4}[ \t]*\r?$", re.M
)


def mail_files(paths: list[str]) -> list[Path]:
    """Files as given; folders recursively (mail suffixes only, sorted)."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MAIL_SUFFIXES
            )
        else:
            files.append(path)
    return files


def iter_file(path: Path) -> Iterator[tuple[str, bytes]]:
    """(source, raw bytes) for each mail in one file; an mbox gives 'file#N' sources.

    A single mail saved with its "From " line is one mail. Nothing before the first
    separator of an mbox is dropped: it is a mail of its own.
    """
    raw = path.read_bytes()
    chunks = split_mbox(raw)
    if len(chunks) == 1 and path.suffix.lower() != ".mbox":
        yield str(path), chunks[0]
        return
    for n, chunk in enumerate(chunks, start=1):
        yield f"{path}#{n}", chunk


def split_mbox(raw: bytes) -> list[bytes]:
    """The mails in `raw`, split at mbox "From " lines (which are removed)."""
    starts = [m.start() for m in _FROM_LINE.finditer(raw)]
    if not starts:
        return [raw]
    chunks = [raw[: starts[0]]] if raw[: starts[0]].strip() else []
    for start, end in zip(starts, [*starts[1:], len(raw)], strict=True):
        _, _, mail = raw[start:end].partition(b"\n")
        chunks.append(mail)
    return chunks


def iter_mails(paths: list[str]) -> Iterator[tuple[str, bytes]]:
    """(source, raw bytes) for every mail under `paths`, one file read at a time."""
    for file in mail_files(paths):
        yield from iter_file(file)
