"""The questions a trip asks its applicants."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from api.errors import Conflict, RuleViolation
from api.services.trip_access import Row, require_not_final, require_trip_organizer, visible_trip
from api.services.trips import trip_language
from api.texts import pick
from db.queries import trips
from schemas.problems import FieldError
from schemas.trip_applications import Question, QuestionCreate, QuestionList, QuestionOption

MAX_QUESTIONS = 50


def question_view(record: Row, lang: str) -> Question:
    return Question(
        id=record["id"],
        position=record["position"],
        kind=record["kind"],
        prompt=record["prompt"],
        display_prompt=pick(record["prompt"], lang),
        options=[QuestionOption(value=o["value"], label=o["label"]) for o in record["options"]],
        required=record["required"],
    )


async def list_questions(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> QuestionList:
    """The application questions: for whoever may see the trip (they apply with them)."""
    row = await visible_trip(conn, trip_id, account_id)
    lang = trip_language(row, languages)
    return QuestionList(
        items=[question_view(q, lang) for q in await trips.select_questions(conn, trip_id)]
    )


async def add_question(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    data: QuestionCreate,
    languages: Sequence[str],
) -> Question:
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    require_not_final(row)
    errors: list[FieldError] = []
    values = [o.value for o in data.options]
    if data.kind == "text" and data.options:
        errors.append(FieldError(pointer="#/options", detail="text questions have no options"))
    if data.kind != "text" and len(data.options) < 2:
        errors.append(FieldError(pointer="#/options", detail="a choice needs at least 2 options"))
    if len(set(values)) != len(values):
        errors.append(FieldError(pointer="#/options", detail="option values must be unique"))
    if errors:
        raise RuleViolation(
            "; ".join(f"{e.pointer[2:]}: {e.detail}" for e in errors), errors=errors
        )
    if await trips.count_questions(conn, trip_id) >= MAX_QUESTIONS:
        raise Conflict(f"A trip has at most {MAX_QUESTIONS} questions.")
    record = await trips.insert_question(
        conn,
        trip_id,
        data.kind,
        data.prompt,
        [{"value": o.value, "label": o.label} for o in data.options],
        data.required,
    )
    return question_view(record, trip_language(row, languages))
