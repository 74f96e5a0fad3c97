"""Counts without names: what `spots_left` means, and which figures the public may see.

The waitlist is served strictly in arrival order (see api/services/waitlist.py): while anyone
who could ever be admitted waits, the free places are held for the head of the line and a
newcomer queues too. So `spots_left` is the number of places a newcomer can take right now:
0 while someone waits, otherwise the free places; None when the pool has no limit.

Language needs are about people, and at a small event "1 person needs Mam" can name them. The
public therefore sees a language's need only once at least PUBLIC_MIN_PEOPLE people have it;
organizers always see exact figures.
"""

from __future__ import annotations

#: the smallest need per language that public counts show (smaller ones are left out)
PUBLIC_MIN_PEOPLE = 5


def spots_left(capacity: int | None, taken: int, queue_waiting: bool) -> int | None:
    """Places a newcomer can take now: None when unlimited, 0 while someone admissible waits."""
    if capacity is None:
        return None
    if queue_waiting:
        return 0
    return max(capacity - taken, 0)


def public_need(needed: int) -> int | None:
    """A language need as the public may see it: None below the threshold (0 included, so
    "nobody" and "one person" look the same)."""
    return needed if needed >= PUBLIC_MIN_PEOPLE else None


def public_needs(needs: dict[str, int]) -> dict[str, int]:
    """Only the languages enough people need for nobody to be singled out."""
    return {lang: n for lang, n in needs.items() if public_need(n) is not None}
