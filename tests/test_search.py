"""Search (`q` on GET /v1/events): every language version stemmed in its own language, accents
and case folded on both sides, tags and area searched, title matches first, hidden venues never
searchable."""

from __future__ import annotations

import pytest

from tests.events_helpers import add_rsvp, in_days, published_event
from tests.people import create_org, sign_up
from tests.problems import assert_problem

HIDDEN_VENUE = {
    "name": "Casa Refugio Escondida",
    "address": "Calle Secreta 12",
    "lat": 32.5332,
    "lon": -117.0382,
}


@pytest.fixture
async def ana(client):
    return await sign_up(client, "Ana")


@pytest.fixture
async def org(client, ana):
    return await create_org(client, ana, "frontera")


async def _found(client, q, headers=None, **params):
    response = await client.get("/v1/events", params={"q": q, **params}, headers=headers or {})
    assert response.status_code == 200, response.text
    return [
        e["title"].get("en") or next(iter(e["title"].values())) for e in response.json()["items"]
    ]


async def _observers_event(client, org, ana):
    return await published_event(
        client,
        org,
        ana,
        title={"es": "Observación legal de la marcha", "en": "Legal observers at the march"},
        summary={"es": "Acompañamiento a familias", "en": "Accompanying families in court"},
        area="Downtown Tijuana",
        venue=None,
        virtual_url=None,
    )


@pytest.mark.parametrize(
    "q",
    [
        "observacion",  # no accent
        "Observación",
        "OBSERVACIONES",  # plural, upper case, no accent
        "acompanamiento",  # ñ typed as n
        "acompañamientos",
        "familia",
        "familias",
        "marcha",
        "marchas",
    ],
)
async def test_spanish_words_find_the_event_with_or_without_accents_singular_or_plural(
    client, ana, org, q
):
    await _observers_event(client, org, ana)
    await published_event(
        client, org, ana, title={"en": "Choir practice", "es": "Ensayo del coro"}, venue=None
    )
    assert await _found(client, q) == ["Legal observers at the march"]


@pytest.mark.parametrize(
    "q", ["observer", "observers", "family", "families", "march", "marches", "court"]
)
async def test_english_words_find_the_event_singular_or_plural(client, ana, org, q):
    await _observers_event(client, org, ana)
    await published_event(
        client, org, ana, title={"en": "Choir practice", "es": "Ensayo del coro"}, venue=None
    )
    assert await _found(client, q) == ["Legal observers at the march"]


async def test_a_plural_text_is_found_by_its_unaccented_singular(client, ana, org):
    await published_event(
        client,
        org,
        ana,
        title={"es": "Taller sobre deportaciones y detenciones"},
        venue=None,
    )
    assert await _found(client, "deportacion") == ["Taller sobre deportaciones y detenciones"]
    assert await _found(client, "detención") == ["Taller sobre deportaciones y detenciones"]


async def test_tags_and_area_are_searched_stemmed_and_folded(client, ana, org):
    await published_event(
        client,
        org,
        ana,
        title={"en": "Welcome dinner"},
        tags=["familias", "asilo"],
        area="Ciudad Juárez",
        venue=None,
    )
    assert await _found(client, "familia") == ["Welcome dinner"]
    assert await _found(client, "asilo") == ["Welcome dinner"]
    assert await _found(client, "juarez") == ["Welcome dinner"]
    assert await _found(client, "ciudad juarez") == ["Welcome dinner"]


async def test_each_language_is_stemmed_in_its_own_language(client, ana, org):
    await published_event(
        client, org, ana, title={"pt": "Manifestação pelos trabalhadores"}, venue=None
    )
    await published_event(client, org, ana, title={"ht": "Rankont pou fanmi yo"}, venue=None)
    # Portuguese stems (read in the caller's language) and folded like the text
    assert await _found(client, "manifestacoes", lang="pt") == ["Manifestação pelos trabalhadores"]
    assert await _found(client, "trabalhador", headers={"Accept-Language": "pt-BR,pt;q=0.9"}) == [
        "Manifestação pelos trabalhadores"
    ]
    # a language without a configuration of its own is matched word for word
    assert await _found(client, "FANMI") == ["Rankont pou fanmi yo"]


async def test_title_matches_come_first_then_summary_then_the_rest(client, ana, org):
    # the earliest event mentions the word only in its description, the latest in its title
    await published_event(
        client,
        org,
        ana,
        title={"en": "Community meeting"},
        description={"es": "Después, vigilia frente al centro de detención"},
        starts_at=in_days(2),
        ends_at=in_days(2, 19),
        venue=None,
    )
    await published_event(
        client,
        org,
        ana,
        title={"en": "Candles and songs"},
        summary={"es": "Una vigilia por los desaparecidos"},
        starts_at=in_days(3),
        ends_at=in_days(3, 19),
        venue=None,
    )
    await published_event(
        client,
        org,
        ana,
        title={"en": "Vigil", "es": "Vigilia"},
        starts_at=in_days(9),
        ends_at=in_days(9, 19),
        venue=None,
    )
    await published_event(
        client,
        org,
        ana,
        title={"en": "Second vigil", "es": "Segunda vigilia"},
        starts_at=in_days(10),
        ends_at=in_days(10, 19),
        venue=None,
    )
    expected = ["Vigil", "Second vigil", "Candles and songs", "Community meeting"]
    assert await _found(client, "vigilias") == expected
    # without `q` the list stays by start time
    assert [e["title"]["en"] for e in (await client.get("/v1/events")).json()["items"]] == [
        "Community meeting",
        "Candles and songs",
        "Vigil",
        "Second vigil",
    ]
    # one by one, following the cursors, the same order and nothing twice
    seen, cursor = [], None
    for _ in range(6):
        params = {"q": "vigilias", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/events", params=params)).json()
        seen += [e["title"]["en"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_a_hidden_venue_cannot_be_confirmed_by_searching_for_it(client, ana, org, conn):
    hidden = await published_event(
        client,
        org,
        ana,
        title={"en": "Safe house meeting"},
        area="Downtown Tijuana",
        venue=HIDDEN_VENUE,
        location_policy="attendees",
    )
    await published_event(
        client,
        org,
        ana,
        title={"en": "Open plaza rally"},
        area="Zona Río",
        venue={**HIDDEN_VENUE, "name": "Plaza Abierta", "address": "Avenida Pública 5"},
    )
    bea = await sign_up(client, "Bea")
    await add_rsvp(conn, hidden, bea, alias="Bea")
    for headers in ({}, bea.headers, ana.headers):  # anonymous, a confirmed attendee, its host
        assert await _found(client, "secreta", headers) == []
        assert await _found(client, "calle secreta 12", headers) == []
        assert await _found(client, "escondida", headers) == []
        # the area every caller sees is searchable; so is a public venue
        assert await _found(client, "tijuana", headers) == ["Safe house meeting"]
        assert await _found(client, "avenida publica", headers) == ["Open plaza rally"]

    # the venue becomes searchable when the location is made public, and stops again after
    made_public = await client.patch(
        f"/v1/events/{hidden['id']}", json={"location_policy": "public"}, headers=ana.headers
    )
    assert made_public.status_code == 200, made_public.text
    assert await _found(client, "secreta") == ["Safe house meeting"]
    hidden_again = await client.patch(
        f"/v1/events/{hidden['id']}", json={"location_policy": "attendees"}, headers=ana.headers
    )
    assert hidden_again.status_code == 200, hidden_again.text
    assert await _found(client, "secreta") == []


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"unclosed phrase',
        "(((",
        "!!!",
        "-",
        "or",
        "a & b | !c",
        "<-> <2>",
        "observ:*",
        "'; DROP TABLE events; --",
        "\\",
        "de la y el",  # only stop words in Spanish
        "ñ̃̃̃",  # combining marks alone
        "💥",
        "x" * 200,
    ],
)
async def test_hostile_queries_answer_200(client, ana, org, q):
    await _observers_event(client, org, ana)
    response = await client.get("/v1/events", params={"q": q})
    assert response.status_code == 200, response.text


async def test_websearch_syntax_phrases_and_exclusions(client, ana, org):
    await _observers_event(client, org, ana)
    await published_event(
        client, org, ana, title={"en": "March for families", "es": "Marcha"}, venue=None
    )
    assert sorted(await _found(client, "marcha")) == [
        "Legal observers at the march",
        "March for families",
    ]
    assert await _found(client, '"legal observers"') == ["Legal observers at the march"]
    assert await _found(client, "marcha -observers") == ["March for families"]


async def test_a_nul_byte_in_q_is_a_400(client):
    assert_problem(await client.get("/v1/events", params={"q": "a\x00b"}), 400)


async def test_a_cursor_from_a_list_by_time_is_refused_by_a_search(client, ana, org):
    for day in (2, 3):
        await published_event(
            client,
            org,
            ana,
            title={"en": f"Vigil {day}"},
            starts_at=in_days(day),
            ends_at=in_days(day, 19),
            venue=None,
        )
    by_time = (await client.get("/v1/events", params={"limit": 1})).json()
    response = await client.get(
        "/v1/events", params={"q": "vigil", "cursor": by_time["next_cursor"]}
    )
    assert_problem(response, 400, pointer="#/query/cursor")
