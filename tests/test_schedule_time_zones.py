"""A doctor's hours are wall-clock hours in the doctor's zone, across DST and rule changes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.actor import Actor, Role
from domain.schedule import DoctorSchedule
from domain.time_rules import local_day_bounds, zone

DR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())


def schedule_in(tz: str, spans: list[str], duration: int = 30) -> tuple[DoctorSchedule, uuid.UUID]:
    schedule = DoctorSchedule.open(uuid.uuid4(), tz, "general-practice", ["en"], by=DR)
    practice = uuid.uuid4()
    schedule.add_practice(practice, uuid.uuid4(), by=DR)
    schedule.set_consultation_type(practice, "video", duration, 0, ["video"], by=DR)
    for weekday in range(7):
        schedule.set_weekly_hours(practice, weekday, spans, by=DR)
    return schedule, practice


def local_starts(schedule: DoctorSchedule, day: date) -> list[str]:
    tz = zone(schedule.time_zone)
    return [s.start.astimezone(tz).strftime("%H:%M") for s in schedule.offered_slots(day)]


def utc_starts(schedule: DoctorSchedule, day: date) -> list[str]:
    return [s.start.astimezone(UTC).strftime("%H:%M") for s in schedule.offered_slots(day)]


@pytest.mark.parametrize(
    ("tz", "before", "change", "utc_before", "utc_after"),
    [
        ("Europe/Luxembourg", date(2027, 3, 27), date(2027, 3, 28), "08:00", "07:00"),  # spring
        ("Europe/Luxembourg", date(2027, 10, 30), date(2027, 10, 31), "07:00", "08:00"),  # autumn
        ("America/New_York", date(2027, 3, 13), date(2027, 3, 14), "14:00", "13:00"),
        ("America/New_York", date(2027, 11, 6), date(2027, 11, 7), "13:00", "14:00"),
    ],
)
def test_nine_oclock_stays_nine_oclock_across_dst(
    tz: str, before: date, change: date, utc_before: str, utc_after: str
) -> None:
    schedule, _ = schedule_in(tz, ["09:00-12:00"])
    for day in (before, change):
        assert local_starts(schedule, day) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert utc_starts(schedule, before)[0] == utc_before
    assert utc_starts(schedule, change)[0] == utc_after


def test_the_hour_skipped_in_spring_offers_no_slot_and_autumn_offers_no_duplicate() -> None:
    schedule, _ = schedule_in("Europe/Luxembourg", ["01:00-04:00"])
    spring = local_starts(schedule, date(2027, 3, 28))
    assert "02:00" not in spring and "02:30" not in spring  # 02:00-03:00 does not exist
    assert spring == ["01:00", "01:30", "03:00", "03:30"]
    autumn = schedule.offered_slots(date(2027, 10, 31))
    assert len({s.start for s in autumn}) == len(autumn) == 6
    day = local_day_bounds(date(2027, 10, 31), zone("Europe/Luxembourg"))
    assert day.end - day.start == timedelta(hours=25)


def test_a_zone_whose_rules_changed_keeps_local_hours() -> None:
    """Brazil abolished daylight saving time in 2019: 09:00 in São Paulo was 11:00 UTC in
    November 2018 and is 12:00 UTC in November 2019; the schedule says 09:00 both times."""
    schedule, _ = schedule_in("America/Sao_Paulo", ["09:00-10:00"])
    assert local_starts(schedule, date(2018, 11, 5)) == ["09:00", "09:30"]
    assert local_starts(schedule, date(2019, 11, 4)) == ["09:00", "09:30"]
    assert utc_starts(schedule, date(2018, 11, 5))[0] == "11:00"
    assert utc_starts(schedule, date(2019, 11, 4))[0] == "12:00"


def test_date_overrides_time_off_and_breaks_remove_slots() -> None:
    schedule, practice = schedule_in("Europe/Luxembourg", ["09:00-12:00", "13:00-14:00"])
    day = date(2027, 6, 1)
    assert "12:00" not in local_starts(schedule, day)  # the lunch break
    schedule.set_date_override(practice, day, ["15:00-16:00"], by=DR)
    assert local_starts(schedule, day) == ["15:00", "15:30"]
    schedule.set_date_override(practice, day, None, by=DR)
    tz = zone("Europe/Luxembourg")
    schedule.add_time_off(
        uuid.uuid4(),
        datetime(2027, 6, 1, 10, tzinfo=tz),
        datetime(2027, 6, 1, 11, tzinfo=tz),
        "break",
        by=DR,
    )
    assert local_starts(schedule, day) == ["09:00", "09:30", "11:00", "11:30", "13:00", "13:30"]
    vacation = uuid.uuid4()
    schedule.add_time_off(
        vacation,
        datetime(2027, 6, 1, tzinfo=tz),
        datetime(2027, 6, 15, tzinfo=tz),
        "vacation",
        by=DR,
    )
    assert local_starts(schedule, day) == []
    schedule.remove_time_off(vacation, by=DR)
    assert len(local_starts(schedule, day)) == 6
