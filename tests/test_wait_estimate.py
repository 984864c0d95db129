"""The wait estimate on its own: what the queue's history teaches it, and its invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.wait_estimate import (
    Expected,
    History,
    InProgress,
    Waiting,
    arrival_chance,
    estimate_waits,
)

NINE = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def walk_in(minutes: float = 15) -> Waiting:
    return Waiting("video-15", minutes, None)


def booked(at: datetime) -> Waiting:
    return Waiting("video-15", 15, at)


def test_with_no_history_each_patient_ahead_counts_about_a_slot() -> None:
    waits = estimate_waits(NINE, [walk_in(), walk_in(), walk_in()], History())
    assert waits[0] < 5
    assert 10 < waits[1] - waits[0] < 20 and 10 < waits[2] - waits[1] < 20


def test_a_doctor_whose_consultations_run_long_gives_longer_waits() -> None:
    quick = History(durations={"video-15": [8.0] * 30})
    slow = History(durations={"video-15": [25.0] * 30})
    queue = [walk_in(), walk_in()]
    assert estimate_waits(NINE, queue, slow)[1] > 2 * estimate_waits(NINE, queue, quick)[1]


def test_the_consultation_in_progress_counts_with_what_is_left_of_it() -> None:
    history = History(durations={"video-15": [15.0, 12.0, 20.0, 18.0, 14.0] * 6})
    just_started = InProgress("video-15", 15, NINE)
    long_running = InProgress("video-15", 15, NINE - timedelta(minutes=14))
    fresh = estimate_waits(NINE, [walk_in()], history, current=just_started)[0]
    nearly_done = estimate_waits(NINE, [walk_in()], history, current=long_running)[0]
    assert fresh > nearly_done > 0


def test_a_booked_patient_waits_at_least_for_the_appointment() -> None:
    waits = estimate_waits(NINE, [booked(NINE + timedelta(minutes=20))], History())
    assert waits[0] >= 20


def test_a_doctor_who_starts_late_is_expected_to_start_late() -> None:
    late = History(start_lags=[15.0] * 20)
    queue = [booked(NINE)]
    assert estimate_waits(NINE, queue, late, started=False)[0] > 10
    assert estimate_waits(NINE, queue, late, started=True)[0] < 5


def test_a_patient_booked_earlier_who_may_still_come_lengthens_the_wait() -> None:
    queue = [booked(NINE + timedelta(minutes=15))]
    now = NINE - timedelta(minutes=5)
    alone = estimate_waits(now, queue, History())[0]
    before_me = [Expected("visit-30", 30, NINE)]
    behind = estimate_waits(now, queue, History(), expected=before_me)[0]
    assert behind > alone + 3


def test_the_chance_a_missing_patient_comes_falls_as_the_appointment_passes() -> None:
    history = History(arrivals=[-8.0, -3.0, 0.0, 2.0, 6.0, 12.0], shows=[1.0] * 9 + [0.0])
    chances = [arrival_chance(history, late) for late in (-20, 0, 5, 10, 20)]
    assert chances == sorted(chances, reverse=True)
    assert chances[0] > 0.8 and chances[-1] == 0


def test_the_same_question_gets_the_same_answer() -> None:
    queue = [walk_in(), booked(NINE + timedelta(minutes=30))]
    assert estimate_waits(NINE, queue, History()) == estimate_waits(NINE, queue, History())


samples = st.lists(st.floats(min_value=0.5, max_value=120), max_size=40)
queues = st.lists(
    st.tuples(
        st.sampled_from(["video-15", "visit-30"]),
        st.sampled_from([15.0, 30.0]),
        st.one_of(st.none(), st.integers(min_value=-30, max_value=240)),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(
    queue=queues,
    durations=samples,
    lags=st.lists(st.floats(min_value=0, max_value=30), max_size=20),
    elapsed=st.one_of(st.none(), st.floats(min_value=0, max_value=200)),
    started=st.booleans(),
)
def test_estimates_are_never_negative_and_never_shrink_down_the_queue(
    queue: list[tuple[str, float, int | None]],
    durations: list[float],
    lags: list[float],
    elapsed: float | None,
    started: bool,
) -> None:
    # in queue order: urgent and walk-ins first, booked ones by appointment
    ordered = sorted(queue, key=lambda q: (q[2] is not None, q[2] or 0))
    waiting = [
        Waiting(code, minutes, None if at is None else NINE + timedelta(minutes=at))
        for code, minutes, at in ordered
    ]
    history = History(durations={"video-15": durations, "visit-30": durations[::2]}, lags=lags)
    current = (
        None if elapsed is None else InProgress("visit-30", 30, NINE - timedelta(minutes=elapsed))
    )
    waits = estimate_waits(NINE, waiting, history, current=current, started=started)
    assert len(waits) == len(waiting)
    assert all(w >= 0 for w in waits)
    assert waits == sorted(waits)
