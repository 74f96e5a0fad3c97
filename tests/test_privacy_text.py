"""The one-page drill: however much an org holds about someone, the text stays on one page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from api.privacy_text import MAX_LINES, WIDTH, render_text, wants_text
from schemas.privacy import HeldField, HeldTable, PrivacyReport, ScheduledPurge

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def _report(tables: int, purges: int, columns: int = 30) -> PrivacyReport:
    return PrivacyReport(
        subject="non_member",
        account_id=uuid.uuid4(),
        org_slug="frontera-unida",
        role=None,
        generated_at=NOW,
        tables=[
            HeldTable(
                table=f"table_number_{i}",
                scope="organization",
                linked_by="account_id",
                rows=i + 1,
                retention="Kept until the organization deletes it, which may be a long while "
                "from now, or sooner",
                on_account_deletion="deleted",
                fields=[
                    HeldField(
                        name=f"column_with_a_long_name_{j}",
                        storage=("plaintext", "encrypted", "hashed")[j % 3],  # type: ignore[arg-type]
                        description="a column",
                    )
                    for j in range(columns)
                ],
            )
            for i in range(tables)
        ],
        purges=[
            ScheduledPurge(
                table="rsvps",
                row_id=uuid.uuid4(),
                fields=["contact_ciphertext"],
                about=f"event {uuid.uuid4()} (A rally with a rather long title, number {i})",
                state="held" if i % 2 else "purged",
                purge_after=NOW + timedelta(hours=i) if i % 2 else None,
                purged_at=None if i % 2 else NOW - timedelta(days=i),
            )
            for i in range(purges)
        ],
        never_stored=["IP addresses", "user agents or device fingerprints"],
    )


def test_a_large_report_still_fits_on_one_page_and_says_what_it_left_out():
    text = render_text(_report(tables=40, purges=200))
    lines = text.splitlines()
    assert len(lines) <= MAX_LINES
    assert all(len(line) <= WIDTH for line in lines)
    assert "HELD (40 tables)" in text and "SEALED FIELDS AND THEIR PURGE (200)" in text
    assert "more tables: see the JSON form" in text
    assert "more purges: see the JSON form" in text
    assert "- table_number_0 (" in text and "purged after" in text
    assert text.rstrip().endswith("user agents or device fingerprints.")


def test_a_small_report_lists_every_field():
    report = _report(tables=2, purges=1, columns=6)
    text = render_text(report)
    assert len(text.splitlines()) <= MAX_LINES
    for field in report.tables[1].fields:
        assert field.name in text
    assert "see the JSON form" not in text
    assert str(report.purges[0].row_id) in text
    assert "not a member" in text


def test_text_is_given_only_to_those_who_ask_for_it():
    assert wants_text("text/plain")
    assert wants_text("text/plain, application/json;q=0.9")
    assert wants_text("application/json;q=0.5, text/plain")
    assert not wants_text(None)
    assert not wants_text("")
    assert not wants_text("*/*")
    assert not wants_text("application/json, text/plain;q=0.5")
    assert not wants_text("text/plain;q=0")
    assert not wants_text("text/plain;q=oops")
