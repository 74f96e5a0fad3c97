"""Choosing the caller's language among the ones a text is given in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags from an Accept-Language header, best first (q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            weighted.append((-q, index, tag.lower()))
    return [tag for _, _, tag in sorted(weighted)]


def choose_language(available: Sequence[str], preferred: Sequence[str]) -> str | None:
    """The first preferred tag available (exact, then by primary subtag), else the first available."""
    if not available:
        return None
    lowered = {a.lower(): a for a in available}
    for tag in preferred:
        if tag in lowered:
            return lowered[tag]
        primary = tag.split("-")[0]
        for low, original in lowered.items():
            if low.split("-")[0] == primary:
                return original
    return available[0]


def pick(texts: Mapping[str, str], lang: str | None) -> str:
    """The text in `lang`, else in any language it exists in (never empty when any exists)."""
    if lang is not None and lang in texts:
        return texts[lang]
    return next(iter(texts.values()), "")
