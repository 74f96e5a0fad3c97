"""Hypothesis state machines over the real booking services on a real PostgreSQL connection.

RSVPs (book with guests, cancel, change guests, raise or lower the capacity), trip places
(apply, accept, waitlist, decline, withdraw, capacity) and ride seats (book, confirm, decline,
cancel) are driven through api/services; after every step the database must show: never more
places than capacity, counters equal to the rows, and nobody left waiting while a place they
fit is free (FIFO: only a head group too large for the free places may hold the line).
For RSVPs, `spots_left` in the counts must say what a newcomer gets: a group is admitted at
once exactly when it fits in `spots_left`, which is 0 while anyone admissible waits.

Each example runs in a transaction that is rolled back; people and the org are made once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from api.app import create_app
from api.config import Settings
from api.crypto import Keyring
from api.errors import Conflict
from api.services import (
    ride_bookings,
    rsvp_booking,
    rsvp_counts,
    rsvp_manage,
    trip_applications,
    trip_decisions,
    trip_editing,
)
from api.services.events import update_event
from api.services.shifts import create_shift, update_shift
from db.pool import connect
from schemas.events import EventPatch
from schemas.rides import RideBookingCreate
from schemas.rsvps import RsvpCreate, RsvpPatch
from schemas.shifts import ShiftCreate, ShiftPatch
from schemas.trip_applications import ApplicationCreate
from schemas.trips import TripPatch
from tests.conftest import SharedConnection, create_test_database, drop_test_database, settings_for
from tests.events_helpers import published_event
from tests.people import Person, create_org, sign_up
from tests.rides_helpers import offer_ride
from tests.trips_helpers import open_trip_for

T = TypeVar("T")

#: the CI budget: a few dozen examples of up to 25 steps each, the same every run
BUDGET = settings(
    max_examples=int(os.environ.get("CARAVAN_MACHINE_EXAMPLES", "100")),
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PEOPLE = 5


class World:
    """An event loop, a database with an org and a few people, and one connection on which
    every example runs inside a transaction."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.database_url = ""
        self.conn: Any = None
        self.settings: Settings
        self.keyring: Keyring
        self.client: httpx.AsyncClient
        self.organizer: Person
        self.org: dict[str, Any] = {}
        self.people: list[Person] = []

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def start(self) -> None:
        self.database_url = await create_test_database("caravan_machines")
        self.settings = settings_for(self.database_url)
        self.keyring = Keyring(self.settings.secret_key)
        self.conn = await connect(self.database_url)
        app = create_app(self.settings, pool=SharedConnection(self.conn))
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        self.organizer = await sign_up(self.client, "Organizer")
        self.org = await create_org(self.client, self.organizer)
        self.people = [await sign_up(self.client, f"Person {i}") for i in range(PEOPLE)]

    async def stop(self) -> None:
        await self.client.aclose()
        await self.conn.close()
        await drop_test_database(self.database_url)


@contextmanager
def world() -> Iterator[World]:
    w = World()
    try:
        w.run(w.start())
        yield w
    finally:
        try:
            if w.conn is not None:
                w.run(w.stop())
        finally:
            w.loop.close()


class Machine(RuleBasedStateMachine):
    """Runs each example in a transaction on the world's connection, each step in a savepoint
    (as a request would): a refused step (409) leaves nothing behind."""

    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        self.tx: Any = None

    def begin(self) -> None:
        self.tx = self.world.conn.transaction()
        self.world.run(self.tx.start())

    def teardown(self) -> None:
        if self.tx is not None:
            self.world.run(self.tx.rollback())

    def step(self, coro: Coroutine[Any, Any, T]) -> T | None:
        """Run one service call in a savepoint; a 409 is a refusal, anything else a bug."""

        async def in_savepoint() -> T:
            async with self.world.conn.transaction():
                return await coro

        try:
            return self.world.run(in_savepoint())
        except Conflict:
            return None

    def fetchrow(self, query: str, *args: Any) -> Any:
        return self.world.run(self.world.conn.fetchrow(query, *args))

    def fetch(self, query: str, *args: Any) -> list[Any]:
        return self.world.run(self.world.conn.fetch(query, *args))


# ------------------------------------------------------------------ RSVPs and the waitlist


class RsvpMachine(Machine):
    """RSVPs to the event's own places (or, in ShiftRsvpMachine, to one of its shifts)."""

    tokens = Bundle("tokens")
    IN_SHIFT: ClassVar[bool] = False
    shift_id: UUID | None = None

    @initialize(capacity=st.integers(1, 8))
    def event(self, capacity: int) -> None:
        self.begin()
        w = self.world
        event = w.run(
            published_event(
                w.client, w.org, w.organizer, capacity=None if self.IN_SHIFT else capacity
            )
        )
        self.event_id = UUID(event["id"])
        if self.IN_SHIFT:
            starts = datetime.fromisoformat(event["starts_at"])
            shift = w.run(
                create_shift(
                    w.conn,
                    self.event_id,
                    UUID(w.organizer.id),
                    ShiftCreate(
                        name={"en": "Marshal"},
                        starts_at=starts,
                        ends_at=starts + timedelta(hours=1),
                        capacity=capacity,
                    ),
                    ["en"],
                )
            )
            self.shift_id = shift.id

    @property
    def pool(self) -> tuple[str, UUID]:
        """The table that holds the pool's counters, and the pool's id in it."""
        return ("shifts", self.shift_id) if self.shift_id else ("events", self.event_id)

    def spots_left(self) -> int | None:
        """What the public counts say a newcomer can take now, for this machine's pool."""
        w = self.world
        counts = w.run(rsvp_counts.event_counts(w.conn, self.event_id, None, None))
        if self.shift_id is None:
            return counts.spots_left
        (shift,) = [s.counts for s in counts.shifts if s.shift_id == self.shift_id]
        return shift.spots_left

    def _book(self, guests: int) -> str:
        w = self.world
        spots_left = self.spots_left()
        created = self.step(
            rsvp_booking.create_rsvp(
                w.conn,
                w.keyring,
                w.settings,
                self.event_id,
                None,
                RsvpCreate(alias="Guest", guests=guests, shift_id=self.shift_id),
                None,
            )
        )
        if created:
            # admitted at once exactly when the group fits in what the counts said was left
            fits = spots_left is None or 1 + guests <= spots_left
            assert created[0].status == ("going" if fits else "waitlisted"), (spots_left, guests)
        # a group larger than the whole capacity is refused; its "token" matches nothing
        return created[0].manage_token if created else "cvn_rsvp_refused"

    # booking comes in two rules (alone, with guests) so runs fill events up more often
    @rule(target=tokens)
    def book_alone(self) -> str:
        return self._book(0)

    @rule(target=tokens, guests=st.integers(1, 3))
    def book_with_guests(self, guests: int) -> str:
        return self._book(guests)

    @rule(token=tokens)
    def cancel(self, token: str) -> None:
        if token != "cvn_rsvp_refused":
            self.step(rsvp_manage.cancel_by_token(self.world.conn, self.world.keyring, token))

    @rule(token=tokens, guests=st.integers(0, 3))
    def change_guests(self, token: str, guests: int) -> None:
        if token == "cvn_rsvp_refused":
            return
        w = self.world
        self.step(
            rsvp_manage.update_by_token(
                w.conn, w.keyring, w.settings, token, RsvpPatch(guests=guests)
            )
        )

    @rule(delta=st.one_of(st.integers(-3, 3), st.none()))
    def change_capacity(self, delta: int | None) -> None:
        """Small steps from where it is (lowering to just below a waiting group is where the
        interesting cases are), or no limit at all (None)."""
        table, pool_id = self.pool
        row = self.fetchrow(f"SELECT capacity, places_taken FROM {table} WHERE id = $1", pool_id)
        base = row["capacity"] if row["capacity"] is not None else row["places_taken"]
        capacity = None if delta is None else max(base + delta, 1)
        w = self.world
        organizer = UUID(w.organizer.id)
        if self.shift_id is not None:
            self.step(
                update_shift(w.conn, self.shift_id, organizer, ShiftPatch(capacity=capacity), [])
            )
            return
        self.step(
            update_event(
                w.conn,
                w.settings.public_url,
                self.event_id,
                organizer,
                EventPatch(capacity=capacity),
                ["en"],
            )
        )

    @invariant()
    def places_add_up_and_nobody_waits_for_a_free_place(self) -> None:
        if self.tx is None:
            return
        table, pool_id = self.pool
        row = self.fetchrow(
            f"""
            SELECT p.capacity, p.places_taken, p.places_waitlisted,
                   coalesce(sum(r.places) FILTER (WHERE r.status IN ('going', 'attended')), 0)
                       AS going,
                   coalesce(sum(r.places) FILTER (WHERE r.status = 'waitlisted'), 0) AS waiting
              FROM {table} p
              LEFT JOIN rsvps r ON r.event_id = $2 AND r.shift_id IS NOT DISTINCT FROM $3
             WHERE p.id = $1
             GROUP BY p.id
            """,
            pool_id,
            self.event_id,
            self.shift_id,
        )
        capacity, taken = row["capacity"], row["places_taken"]
        assert taken == row["going"], dict(row)
        assert row["places_waitlisted"] == row["waiting"], dict(row)
        assert capacity is None or taken <= capacity, dict(row)
        queue = [
            r["places"]
            for r in self.fetch(
                """
                SELECT places FROM rsvps
                 WHERE event_id = $1 AND shift_id IS NOT DISTINCT FROM $2
                   AND status = 'waitlisted'
                 ORDER BY arrival
                """,
                self.event_id,
                self.shift_id,
            )
        ]
        # a group larger than the whole capacity can never be admitted: it holds nobody up
        admissible = [p for p in queue if capacity is not None and p <= capacity]
        if capacity is None:
            assert queue == [], (dict(row), queue)
        elif admissible:
            assert admissible[0] > capacity - taken, (dict(row), queue)
        # the places a newcomer can take: none while anyone admissible waits
        expected = None if capacity is None else 0 if admissible else capacity - taken
        assert self.spots_left() == expected, (dict(row), queue)


class ShiftRsvpMachine(RsvpMachine):
    """The same, for a shift: its own pool of places inside an unlimited event."""

    IN_SHIFT = True


# ------------------------------------------------------------------ trip places


class TripMachine(Machine):
    applications = Bundle("applications")

    @initialize(capacity=st.integers(1, 3), promote=st.booleans())
    def trip(self, capacity: int, promote: bool) -> None:
        self.begin()
        w = self.world
        trip = w.run(
            open_trip_for(
                w.client, w.org, w.organizer, capacity=capacity, promote_from_waitlist=promote
            )
        )
        self.trip_id = UUID(trip["id"])
        self.promote = promote

    @property
    def organizer_id(self) -> UUID:
        return UUID(self.world.organizer.id)

    @rule(target=applications, who=st.integers(0, PEOPLE - 1))
    def apply(self, who: int) -> tuple[UUID, UUID] | None:
        w = self.world
        person = UUID(w.people[who].id)
        created = self.step(
            trip_applications.apply(
                w.conn, w.keyring, self.trip_id, person, ApplicationCreate(roles=["participant"])
            )
        )
        return (created.id, person) if created else None

    @rule(application=applications, to=st.sampled_from(["accepted", "waitlisted", "declined"]))
    def decide(self, application: tuple[UUID, UUID] | None, to: str) -> None:
        if application is not None:
            w = self.world
            self.step(trip_decisions.decide(w.conn, application[0], self.organizer_id, to))

    @rule(application=applications)
    def withdraw(self, application: tuple[UUID, UUID] | None) -> None:
        if application is None:
            return
        before = self.fetchrow("SELECT status FROM trip_applications WHERE id = $1", application[0])
        done = self.step(trip_decisions.withdraw(self.world.conn, *application))
        if done is not None and before["status"] == "accepted":
            self.assert_no_free_place_while_someone_waits()

    @rule(capacity=st.integers(1, 5))
    def set_capacity(self, capacity: int) -> None:
        w = self.world
        old = self.fetchrow("SELECT capacity FROM trips WHERE id = $1", self.trip_id)
        done = self.step(
            trip_editing.update_trip(
                w.conn, None, self.trip_id, self.organizer_id, TripPatch(capacity=capacity), ["en"]
            )
        )
        if done is not None and capacity > old["capacity"]:
            self.assert_no_free_place_while_someone_waits()

    def assert_no_free_place_while_someone_waits(self) -> None:
        """After a place frees up (a withdrawal, a raised capacity), a trip that promotes from
        its waitlist has filled it. (Organizers may still waitlist by hand while places are
        free, so this holds right after those steps, not always.)"""
        if not self.promote:
            return
        row = self.fetchrow(
            """
            SELECT t.capacity - t.places_taken AS free,
                   count(a.id) FILTER (WHERE a.status = 'waitlisted') AS waiting
              FROM trips t LEFT JOIN trip_applications a ON a.trip_id = t.id
             WHERE t.id = $1 GROUP BY t.id
            """,
            self.trip_id,
        )
        assert row["free"] == 0 or row["waiting"] == 0, dict(row)

    @invariant()
    def places_add_up(self) -> None:
        if self.tx is None:
            return
        row = self.fetchrow(
            """
            SELECT t.capacity, t.places_taken, t.status,
                   count(a.id) FILTER (WHERE a.status = 'accepted') AS accepted
              FROM trips t LEFT JOIN trip_applications a ON a.trip_id = t.id
             WHERE t.id = $1 GROUP BY t.id
            """,
            self.trip_id,
        )
        assert row["places_taken"] == row["accepted"], dict(row)
        assert row["places_taken"] <= row["capacity"], dict(row)
        if row["status"] in ("open", "full"):
            assert (row["status"] == "full") == (row["places_taken"] >= row["capacity"]), dict(row)


# ------------------------------------------------------------------ ride seats


class RideMachine(Machine):
    bookings = Bundle("bookings")

    @initialize(seats=st.integers(1, 4), auto_confirm=st.booleans())
    def offer(self, seats: int, auto_confirm: bool) -> None:
        self.begin()
        w = self.world
        event = w.run(published_event(w.client, w.org, w.organizer))
        # the driver is the last person; the others ride
        self.driver = UUID(w.people[-1].id)
        offer = w.run(
            offer_ride(w.client, event, w.people[-1], seats=seats, auto_confirm=auto_confirm)
        )
        self.offer_id = UUID(offer["id"])

    @rule(target=bookings, who=st.integers(0, PEOPLE - 2), seats=st.integers(1, 3))
    def book(self, who: int, seats: int) -> tuple[UUID, UUID] | None:
        w = self.world
        rider = UUID(w.people[who].id)
        booking = self.step(
            ride_bookings.create_booking(
                w.conn, self.offer_id, rider, RideBookingCreate(seats=seats)
            )
        )
        return (booking.id, rider) if booking else None

    @rule(booking=bookings, decision=st.sampled_from(["confirmed", "declined"]))
    def decide(self, booking: tuple[UUID, UUID] | None, decision: str) -> None:
        if booking is not None:
            self.step(
                ride_bookings.decide_booking(self.world.conn, booking[0], self.driver, decision)
            )

    @rule(booking=bookings, by_driver=st.booleans())
    def cancel(self, booking: tuple[UUID, UUID] | None, by_driver: bool) -> None:
        if booking is not None:
            who = self.driver if by_driver else booking[1]
            self.step(ride_bookings.cancel_booking(self.world.conn, booking[0], who))

    @invariant()
    def seats_add_up(self) -> None:
        if self.tx is None:
            return
        row = self.fetchrow(
            """
            SELECT o.seats, o.seats_taken, o.status,
                   coalesce(sum(b.seats) FILTER (WHERE b.status = 'confirmed'), 0) AS confirmed
              FROM ride_offers o LEFT JOIN ride_bookings b ON b.offer_id = o.id
             WHERE o.id = $1 GROUP BY o.id
            """,
            self.offer_id,
        )
        assert row["seats_taken"] == row["confirmed"], dict(row)
        assert row["seats_taken"] <= row["seats"], dict(row)
        assert (row["status"] == "full") == (row["seats_taken"] == row["seats"]), dict(row)


# ------------------------------------------------------------------ the tests


@pytest.fixture(scope="module")
def shared_world() -> Iterator[World]:
    with world() as w:
        yield w


def _run(machine: type[Machine], w: World) -> None:
    machine.world = w
    run_state_machine_as_test(machine, settings=BUDGET)


def test_rsvp_places_never_overbook_and_the_waitlist_moves_in_order(shared_world):
    _run(RsvpMachine, shared_world)


def test_shift_places_never_overbook_and_the_waitlist_moves_in_order(shared_world):
    _run(ShiftRsvpMachine, shared_world)


def test_trip_places_never_overbook_and_freed_places_go_to_the_waitlist(shared_world):
    _run(TripMachine, shared_world)


def test_ride_seats_never_overbook_and_counters_match_the_bookings(shared_world):
    _run(RideMachine, shared_world)


def test_lowering_the_capacity_below_a_waiting_group_admits_those_behind_it(shared_world):
    # found by the RSVP machine: only a raised capacity used to promote, so a head group
    # made too large to ever fit kept a free place from the single person behind it
    RsvpMachine.world = shared_world
    machine = RsvpMachine()
    machine.event(capacity=5)
    try:
        machine.book_alone()
        machine.book_alone()
        machine.book_with_guests(3)  # 4 places: waits, 3 are free
        machine.book_alone()  # waits behind the group
        machine.change_capacity(-2)  # 3: the group can never fit; 1 place is free
        statuses = machine.fetch(
            "SELECT places, status FROM rsvps WHERE event_id = $1 ORDER BY arrival",
            machine.event_id,
        )
        assert [(r["places"], r["status"]) for r in statuses] == [
            (1, "going"),
            (1, "going"),
            (4, "waitlisted"),
            (1, "going"),
        ]
        machine.places_add_up_and_nobody_waits_for_a_free_place()
    finally:
        machine.teardown()
