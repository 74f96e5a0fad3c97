"""What an Accept header asks for: one parser for every route that answers in several forms."""

from __future__ import annotations


def accept_weights(accept: str | None) -> dict[str, float]:
    """Each media range of an Accept header with its best q (a missing q is 1, a bad one 0);
    at most 20 ranges are read, so a hostile header costs little."""
    best: dict[str, float] = {}
    for part in (accept or "").split(",")[:20]:
        media, _, params = part.strip().partition(";")
        if not media.strip():
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        key = media.strip().lower()
        best[key] = max(q, best.get(key, 0.0))
    return best
