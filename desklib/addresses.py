"""Splitting address headers without being fooled by addresses in display names.

`email.utils.getaddresses` before Python 3.11.9 reads `acme@x <globex@y>` as
two addresses, acme@x first (CVE-2023-27043): a mail could route to the client
named in a display name. Here each top-level item is split by hand, and an
angle-bracketed address always wins over anything before it.
"""

import re
from email.utils import parseaddr

_ANGLE_ADDR = re.compile(r"<([^<>]*)>\s*$")
_COMMENT = re.compile(r"\([^()]*\)")


def split_address_list(value: str) -> list[str]:
    """Top-level items of an address list: commas inside quotes, <> or () do not split."""
    items, current, depth_angle, depth_paren, quoted, escaped = [], [], 0, 0, False, False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"' and not depth_paren:
            quoted = not quoted
        elif not quoted:
            if ch == "<":
                depth_angle += 1
            elif ch == ">" and depth_angle:
                depth_angle -= 1
            elif ch == "(":
                depth_paren += 1
            elif ch == ")" and depth_paren:
                depth_paren -= 1
            elif ch in ",;" and not depth_angle and not depth_paren:
                items.append("".join(current))
                current = []
                continue
        current.append(ch)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def parse_address(item: str) -> tuple[str, str]:
    """(display name, address) of one item; a group's "name:" prefix is dropped."""
    match = _ANGLE_ADDR.search(item)
    if match:
        name = item[: match.start()].strip()
        if ":" in name and '"' not in name:  # "team: Pat <pat@x>" (a group)
            name = name.split(":", 1)[1].strip()
        return name.strip('"').strip(), match.group(1).strip()
    bare = _COMMENT.sub(" ", item)
    if ":" in bare.split("@", 1)[0]:
        bare = bare.split(":", 1)[1]
    name, address = parseaddr(bare)
    return name, address or bare.strip()


def addresses_in(values: list[str]) -> list[tuple[str, str]]:
    """(display name, address) for every item of every header value, in order."""
    return [parse_address(item) for value in values for item in split_address_list(value)]
