"""Who was vaccinated, with what, when; which doses were entered, and where (vectorised per chunk).

Dose progression is calibrated to the national totals of seed 001 appendix 1 (31/01/2023):
adults 70.4 M first, 68.1 M second, 1.5 M Abdala third, 13.0 M additional, 51.5 M booster 1, 17.5 M
booster 2; 12-17: 9.1 M / 9.0 M / 5.8 M; 5-11: 10.2 M / 8.2 M.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiemchung.synth.geography import Geography

LAST_DAY = np.datetime64("2023-01-31")
DOSE_KINDS = ("1", "2", "3", "additional", "booster_1", "booster_2")  # DoseKind values, slot order
AGE_GROUPS = ("18+", "12-17", "5-11")  # AgeGroup values
ADULT, TEEN, CHILD = 0, 1, 2
REASON_GROUP_COUNT = 7  # groups 1-6 and other, in ReasonGroup order


@dataclass(frozen=True)
class VaccineSpec:
    name: str  # the common name typed in records (interchange spec section 2)
    primary_doses: int
    min_interval_days: int
    max_interval_days: int
    lot_prefix: str


VACCINES = (
    VaccineSpec("AstraZeneca", 2, 56, 84, "ABV"),
    VaccineSpec("Pfizer", 2, 21, 56, "FF"),
    VaccineSpec("Vero Cell", 2, 21, 28, "2021"),
    VaccineSpec("Moderna", 2, 28, 56, "MD"),
    VaccineSpec("Sputnik V", 2, 21, 28, "SV"),
    VaccineSpec("Abdala", 3, 14, 14, "AB"),
    VaccineSpec("Hayat-Vax", 2, 21, 28, "HV"),
    VaccineSpec("Janssen", 1, 0, 0, "JS"),
)
ASTRAZENECA, PFIZER, MODERNA = 0, 1, 3
# Primary vaccine mix by age group (adults: the national mix of 2021-2022; children: paediatric Pfizer/Moderna).
_PRIMARY_MIX = {
    ADULT: np.array([0.36, 0.27, 0.25, 0.065, 0.015, 0.022, 0.01, 0.008]),
    TEEN: np.array([0, 0.9, 0, 0.1, 0, 0, 0, 0]),
    CHILD: np.array([0, 0.55, 0, 0.45, 0, 0, 0, 0]),
}
_BOOSTER_MIX = {ADULT: np.array([0.2, 0.5, 0, 0.3, 0, 0, 0, 0]), TEEN: np.array([0, 1.0, 0, 0, 0, 0, 0, 0])}
_COVERAGE = {ADULT: 0.93, TEEN: 0.93, CHILD: 0.78}
_COMPLETES_PRIMARY = {ADULT: 0.967, TEEN: 0.981, CHILD: 0.803}  # second / first doses in seed 001
_ADDITIONAL_RATE = 0.19  # adults: 13.0 M additional / 68.1 M second doses
# 12-17: 0.8 before the 31/01/2023 cut-off realises the seed's 5.8 M / 9.0 M = 0.65 (boosters from 08/2022)
_BOOSTER_1_RATE = {ADULT: 0.756, TEEN: 0.8, CHILD: 0.0}
_BOOSTER_2_RATE = 0.34  # adults: 17.5 M / 51.5 M
# First-dose campaigns per group: first day, length in days, beta shape (the 2021 summer-autumn peak).
_CAMPAIGNS = {
    ADULT: (np.datetime64("2021-03-08"), 480, 2.5, 4.0),
    TEEN: (np.datetime64("2021-10-20"), 240, 1.5, 4.0),
    CHILD: (np.datetime64("2022-04-14"), 260, 1.5, 3.5),
}
_BOOSTER_START = {ADULT: np.datetime64("2021-11-19"), TEEN: np.datetime64("2022-08-01")}
_BOOSTER_2_START = np.datetime64("2022-05-20")
# with the last doses below, about 5 % of doses never entered (seed 001: 13.2 M of 266 M)
_NOT_ENTERED_PERSON_RATE = 0.042
_NOT_ENTERED_LAST_DOSE_RATE = 0.025
# Reason groups of doses never entered (seed 001 appendix 2: no information, moved away, police, army,
# prisoners, rehabilitation/social protection centres, other). Armed forces and institutions: adults only.
_REASON_MIX_ADULT = np.array([0.30, 0.20, 0.08, 0.15, 0.03, 0.04, 0.20])
_REASON_MIX_MINOR = np.array([0.50, 0.30, 0, 0, 0, 0, 0.20])
_REASON_MIX_LAST_DOSE = np.array([0.60, 0.20, 0, 0, 0, 0, 0.20])
_STATION_SHARE = 0.85  # the rest at the district health centre
# Registered more than once (issue 18): people with at least two doses entered whose later doses were entered as
# a new subject by another facility (a workplace campaign, the ward's station, a booster elsewhere). Our estimate,
# not a published figure: the seed's 82.3 M subjects against about 80 M people vaccinated by then leave room for a
# few percent; stations' "gộp mũi tiêm" requests ran into the millions.
DUPLICATE_RATE = 0.04
# Of those with at least three doses, the share registered three times (dose 1, dose 2, the booster apart).
THIRD_REGISTRATION_RATE = 0.25
# Where a later registration was made (shares): the ward's other facility (station <-> district centre), another
# ward's station of the province, or another province (migrant workers: workplace campaigns in industrial zones).
REGISTRATION_PLACES = {"own_ward": 0.4, "same_province": 0.3, "other_province": 0.3}


@dataclass
class Schedules:
    """Six dose slots per person (DOSE_KINDS order); NaT where no dose."""

    dates: np.ndarray  # (n, 6) datetime64[D]
    vaccine: np.ndarray  # (n, 6) int, index into VACCINES
    group: np.ndarray  # (n,) int: campaign age group, -1 for the unvaccinated


def age_in_years(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Completed years, vectorised (same rule as reference.age_group: birthday reached or not)."""
    birth_year = birth.astype("datetime64[Y]")
    on_year = on.astype("datetime64[Y]")
    years = (on_year - birth_year).astype(np.int64)
    birth_day_of_year = _month_day(birth)
    return years - (_month_day(on) < birth_day_of_year).astype(np.int64)


def _month_day(days: np.ndarray) -> np.ndarray:
    months = days.astype("datetime64[M]")
    month_number = (months - days.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64)
    return month_number * 100 + (days - months.astype("datetime64[D]")).astype(np.int64)


def age_group_index(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    age = age_in_years(birth, on)
    return np.where(age >= 18, ADULT, np.where(age >= 12, TEEN, CHILD))


def make_schedules(rng: np.random.Generator, birth: np.ndarray, force_adult: bool = False) -> Schedules:
    size = len(birth)
    dates = np.full((size, 6), np.datetime64("NaT", "D"), dtype="datetime64[D]")
    vaccine = np.full((size, 6), -1, dtype=np.int64)
    group = np.full(size, -1, dtype=np.int64)
    undecided = np.ones(size, dtype=bool)
    for campaign, minimum_age in ((ADULT, 18), (TEEN, 12), (CHILD, 5)):
        first_day, length, a, b = _CAMPAIGNS[campaign]
        day = first_day + (rng.beta(a, b, size) * length).astype(np.int64).astype("timedelta64[D]")
        old_enough = undecided & ((age_in_years(birth, day) >= minimum_age) | force_adult)
        dates[old_enough, 0] = day[old_enough]
        group[old_enough] = campaign
        undecided &= ~old_enough
    for campaign in (ADULT, TEEN, CHILD):
        _plan_group(rng, group == campaign, campaign, dates, vaccine)
    dates[dates > LAST_DAY] = np.datetime64("NaT", "D")
    vaccine[np.isnat(dates)] = -1
    group[np.isnat(dates[:, 0])] = -1
    return Schedules(dates, vaccine, group)


def _plan_group(
    rng: np.random.Generator, members: np.ndarray, campaign: int, dates: np.ndarray, vaccine: np.ndarray
) -> None:
    size = len(members)
    eligible = members
    members = eligible & (rng.random(size) < _COVERAGE[campaign])
    dates[eligible & ~members, 0] = np.datetime64("NaT", "D")
    primary = rng.choice(len(VACCINES), size=size, p=_PRIMARY_MIX[campaign])
    low = np.array([v.min_interval_days for v in VACCINES])[primary]
    high = np.array([v.max_interval_days for v in VACCINES])[primary]
    doses = np.array([v.primary_doses for v in VACCINES])[primary]
    vaccine[members, 0] = primary[members]
    second = members & (doses >= 2) & (rng.random(size) < _COMPLETES_PRIMARY[campaign])
    gap = rng.integers(low, high + 1)
    dates[second, 1] = dates[second, 0] + gap[second].astype("timedelta64[D]")
    vaccine[second, 1] = primary[second]
    third = second & (doses == 3) & (rng.random(size) < 0.95)
    dates[third, 2] = dates[third, 1] + gap[third].astype("timedelta64[D]")
    vaccine[third, 2] = primary[third]
    complete = (second & (doses == 2)) | third | (members & (doses == 1))
    last = _latest(dates[:, :3])
    if campaign == ADULT:
        additional = complete & (rng.random(size) < _ADDITIONAL_RATE)
        dates[additional, 3] = last[additional] + rng.integers(28, 91, int(additional.sum())).astype("timedelta64[D]")
        vaccine[additional, 3] = np.where(primary[additional] == 7, PFIZER, primary[additional])
        last = _latest(dates[:, :4])
    if campaign in _BOOSTER_MIX:
        _boosters(rng, complete, campaign, last, dates, vaccine)


def _boosters(
    rng: np.random.Generator,
    complete: np.ndarray,
    campaign: int,
    last: np.ndarray,
    dates: np.ndarray,
    vaccine: np.ndarray,
) -> None:
    size = len(complete)
    booster = complete & (rng.random(size) < _BOOSTER_1_RATE[campaign])
    earliest = last + rng.integers(90, 181, size).astype("timedelta64[D]")
    start = _BOOSTER_START[campaign] + rng.integers(0, 60, size).astype("timedelta64[D]")
    dates[booster, 4] = np.maximum(earliest, start)[booster]
    vaccine[booster, 4] = rng.choice(len(VACCINES), size=size, p=_BOOSTER_MIX[campaign])[booster]
    if campaign != ADULT:
        return
    second = booster & (rng.random(size) < _BOOSTER_2_RATE)
    earliest = dates[:, 4] + rng.integers(120, 201, size).astype("timedelta64[D]")
    start = _BOOSTER_2_START + rng.integers(0, 60, size).astype("timedelta64[D]")
    dates[second, 5] = np.maximum(earliest, start)[second]
    vaccine[second, 5] = rng.choice(len(VACCINES), size=size, p=_BOOSTER_MIX[campaign])[second]


def _latest(dates: np.ndarray) -> np.ndarray:
    filled = np.where(np.isnat(dates), np.datetime64("1900-01-01"), dates)
    return filled.max(axis=1)


@dataclass
class EntryPlan:
    """Which vaccinated people became subjects, which doses were entered, and why the others were not."""

    entered_person: np.ndarray  # bool per person
    dose_entered: np.ndarray  # (n, 6) bool
    reason_group: np.ndarray  # (n, 6) int, index into ReasonGroup order; -1 where entered or no dose


def plan_entry(rng: np.random.Generator, schedules: Schedules) -> EntryPlan:
    has_dose = ~np.isnat(schedules.dates)
    size = len(schedules.group)
    vaccinated = has_dose[:, 0]
    reason = np.full((size, 6), -1, dtype=np.int64)
    never = vaccinated & (rng.random(size) < _NOT_ENTERED_PERSON_RATE)
    adult = schedules.group == ADULT
    person_reason = np.where(
        adult,
        rng.choice(REASON_GROUP_COUNT, size=size, p=_REASON_MIX_ADULT),
        rng.choice(REASON_GROUP_COUNT, size=size, p=_REASON_MIX_MINOR),
    )
    reason[never] = np.where(has_dose[never], person_reason[never, None], -1)
    dose_count = has_dose.sum(axis=1)
    lose_last = vaccinated & ~never & (dose_count >= 2) & (rng.random(size) < _NOT_ENTERED_LAST_DOSE_RATE)
    last_slot = 5 - np.argmax(has_dose[:, ::-1], axis=1)
    rows = np.flatnonzero(lose_last)
    reason[rows, last_slot[rows]] = rng.choice(REASON_GROUP_COUNT, size=len(rows), p=_REASON_MIX_LAST_DOSE)
    return EntryPlan(vaccinated & ~never, has_dose & (reason < 0), reason)


def choose_facilities(rng: np.random.Generator, ward: np.ndarray, geography: Geography) -> np.ndarray:
    """Facility index per subject: the ward's commune health station, or its district health centre."""
    at_station = rng.random(len(ward)) < _STATION_SHARE
    return np.where(at_station, geography.station_facility(ward), geography.centre_facility(ward))


def lot_numbers(rng: np.random.Generator, vaccine: np.ndarray, dates: np.ndarray) -> pa.Array:
    """Plausible lot numbers: a vaccine prefix and a batch that changes every fortnight; some left empty."""
    prefixes = pa.array([v.lot_prefix for v in VACCINES]).take(pa.array(vaccine))
    batch = (dates.astype(np.int64) // 14 * 37 + vaccine * 1013) % 9000 + 1000
    lots = pc.binary_join_element_wise(prefixes, pc.cast(pa.array(batch), pa.string()), "")
    return pc.if_else(pa.array(rng.random(len(vaccine)) < 0.1), "", lots)
