"""The subpoena drill on one page: a plain-text rendering of a PrivacyReport, at most 60 lines.

Pure functions of the report (no database), like api/ical.py: what the JSON says, in a form a
person can read aloud or print; anything that does not fit is counted and left to the JSON.
"""

from __future__ import annotations

import textwrap
from datetime import datetime

from api.negotiation import accept_weights
from schemas.privacy import HeldTable, PrivacyReport, ScheduledPurge

MAX_LINES = 60
WIDTH = 100
MEDIA_TYPE = "text/plain"  # Litestar adds "; charset=utf-8"
_FORMS = ("encrypted", "hashed", "plaintext")


def wants_text(accept: str | None) -> bool:
    """Whether the Accept header prefers text/plain to JSON (a missing header means JSON)."""
    if not accept:
        return False
    best = accept_weights(accept)
    text = best.get("text/plain", 0.0)
    json = max(best.get("application/json", 0.0), best.get("*/*", 0.0))
    return text > 0 and text >= json


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _short(value: object) -> str:
    return str(value)[:8]


def _clip(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def _names(names: list[str], room: int) -> str:
    """As many names as fit in `room` characters, then how many more."""
    shown: list[str] = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        tail = f" (+{rest} more)" if rest else ""
        if len(", ".join([*shown, name])) + len(tail) > room and shown:
            return ", ".join(shown) + f" (+{len(names) - len(shown)} more)"
        shown.append(name)
    return ", ".join(shown)


def _wrapped(text: str, indent: str = "    ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def _forms(t: HeldTable) -> list[tuple[str, list[str]]]:
    forms = []
    for form in _FORMS:
        names = [f.name for f in t.fields if f.storage == form]
        if names:
            forms.append((form, names))
    return forms


def _rows(t: HeldTable) -> str:
    rows = f"{t.rows} row" + ("" if t.rows == 1 else "s")
    where = "account-wide" if t.scope == "account" else "this organization"
    return f"{rows}, {where}, by {t.linked_by}"


def _table_lines(t: HeldTable, full: bool) -> list[str]:
    """A table: full, its retention and every field (wrapped); else two clipped lines."""
    forms = _forms(t)
    if full:
        lines = [_clip(f"- {t.table} ({_rows(t)})"), *_wrapped(f"retention: {t.retention}.")]
        lines += _wrapped("; ".join(f"{form}: {', '.join(names)}" for form, names in forms))
        return lines
    first = _clip(f"- {t.table} ({_rows(t)}): {t.retention}.")
    room = WIDTH - 4 - sum(len(form) + 4 for form, _ in forms)
    share = max(room // max(len(forms), 1), 12)
    second = "    " + "; ".join(f"{form}: {_names(names, share)}" for form, names in forms)
    return [first, _clip(second)]


def _purge_lines(p: ScheduledPurge, full: bool) -> list[str]:
    fields = ", ".join(p.fields)
    if p.state == "held":
        state = f"held, purged after {_when(p.purge_after)}"
    else:
        state = f"purged {_when(p.purged_at)}"
    if full:
        return [_clip(f"- {p.table} row {p.row_id}: {p.about}"), *_wrapped(f"{fields}: {state}")]
    return [_clip(f"- {p.table} {_short(p.row_id)}: {fields} {state}")]


def _fit(blocks: list[list[str]], room: int, noun: str) -> list[str]:
    """Whole blocks while they fit in `room` lines; then one line counting the rest."""
    lines: list[str] = []
    for i, block in enumerate(blocks):
        left = len(blocks) - i
        need = len(block) + (1 if left > 1 else 0)
        if len(lines) + need > room:
            return [*lines, f"  … and {left} more {noun}: see the JSON form of this report"]
        lines.extend(block)
    return lines


def _subject(report: PrivacyReport) -> str:
    if report.subject == "rsvp":
        return f"Subject: one RSVP ({report.rsvp_id}), reached by its manage link; no account"
    if report.subject == "member":
        return f"Subject: account {report.account_id}, a member ({report.role})"
    return f"Subject: account {report.account_id}, not a member (RSVPs, applications or rides)"


def render_text(report: PrivacyReport) -> str:
    """The report in at most MAX_LINES lines of at most WIDTH characters: every field when
    that fits, else a line or two per table and per purge, the rest counted."""
    head = [
        _clip(f"Privacy report: what {report.org_slug} holds about one person"),
        _clip(_subject(report)),
        f"Generated {_when(report.generated_at)}. Values are never shown: only fields, their "
        "form, and when",
        "the sealed ones are purged. encrypted = sealed, unreadable once its key is destroyed; "
        "hashed =",
        "one-way, not recoverable; plaintext = readable by anyone holding the database or a "
        "backup.",
    ]
    never = textwrap.wrap("Never stored: " + "; ".join(report.never_stored) + ".", WIDTH)[:6]
    held_title = f"HELD ({len(report.tables)} tables)"
    purge_title = f"SEALED FIELDS AND THEIR PURGE ({len(report.purges)})"
    fixed = len(head) + 1 + 1 + 1 + 1 + 1 + len(never)  # blank lines and two titles
    room = MAX_LINES - fixed
    tables = [line for t in report.tables for line in _table_lines(t, full=True)]
    purges = [line for p in report.purges for line in _purge_lines(p, full=True)] or ["- none"]
    if len(tables) + len(purges) > room:
        purge_blocks = [_purge_lines(p, full=False) for p in report.purges] or [["- none"]]
        table_blocks = [_table_lines(t, full=False) for t in report.tables]
        # the purges keep a few lines; the tables get the rest, then the purges what is left
        purge_floor = min(len(purge_blocks), max(room // 4, 2))
        tables = _fit(table_blocks, room - purge_floor, "tables")
        purges = _fit(purge_blocks, room - len(tables), "purges")
    lines = [*head, "", held_title, *tables, "", purge_title, *purges, "", *never]
    assert len(lines) <= MAX_LINES
    return "\n".join(lines) + "\n"
