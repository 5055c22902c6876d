"""The synthetic population: people in households, with register identities (interchange spec section 1).

Everything is drawn per chunk with numpy; the only state carried across chunks is the counters that keep
identity numbers unique (`IdentityCounters`), so the output does not depend on memory size.
"""

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tiemchung.synth.geography import Geography
from tiemchung.synth.tables import given_names, middle_names, province_weights, surnames

REFERENCE_DAY = np.datetime64("2023-01-31")  # the seed-001 reporting date: ages are counted on it
_DAYS_PER_YEAR = 365.2425
# 2019 census age bands (identity.md): 0-4, 5-11, 12-17, 18+.
_AGE_BANDS = ((0, 4, 0.08), (5, 11, 0.11), (12, 17, 0.085), (18, 99, 0.725))
_MALE_SHARE = 111.5 / 211.5  # sex ratio at birth
_HOUSEHOLD_SIZES = np.array([1, 2, 3, 4, 5, 6])
_HOUSEHOLD_SIZE_SHARES = np.array([0.12, 0.20, 0.22, 0.25, 0.13, 0.08])
_SHARES_HOUSEHOLD_SURNAME = 0.75  # spouses keep their own family name
_TWIN_RATE = 0.012
_NAMESAKE_RATE = 0.003
_BORN_ELSEWHERE_RATE = 0.15  # birth registered outside the province of residence
_CMND_HOLDER_RATE = 0.65  # among people born before 2005
_CMND_12_DIGIT_SHARE = 0.12  # 12-digit CMNDs (2012-2016) kept their number as CCCD
_CMND_UNRECORDED_RATE = 0.15  # a CMND the register does not record as old_id
_CMND_REISSUED_RATE = 0.001  # about 50,000 CMND numbers were issued twice
_ABSENT_FROM_REGISTER_RATE = 0.015
_NO_ADDRESS_RATE = 0.04
# A bijection of [0, 10^k) (multiplier coprime with 10) turns serial numbers into random-looking ranges.
_SCRAMBLE_MULTIPLIER = 387_433


@dataclass
class IdentityCounters:
    """Next serial per personal-ID bucket (prefix, century/sex, year) and per CMND prefix."""

    cccd: np.ndarray = field(default_factory=lambda: np.zeros(100 * 10 * 100, dtype=np.int64))
    cmnd: np.ndarray = field(default_factory=lambda: np.zeros(100, dtype=np.int64))


@dataclass
class People:
    """One chunk of people; arrays aligned by position."""

    person_id: np.ndarray  # str, 12 digits
    old_id: np.ndarray  # str, the CMND recorded in the register ("" if none)
    held_cmnd: np.ndarray  # str, the CMND the person holds, recorded or not ("" if none)
    surname: np.ndarray  # object (str)
    middle: np.ndarray  # object (str, may be "")
    given: np.ndarray  # object (str)
    full_name: np.ndarray  # object (str, NFC)
    birth: np.ndarray  # datetime64[D]
    year_only: np.ndarray  # bool: the register holds only the year
    is_male: np.ndarray  # bool
    ward: np.ndarray  # int, index into the geography's wards
    address: np.ndarray  # object (str)
    household: np.ndarray  # int, unique within the chunk
    in_register: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.person_id)


def make_people(
    rng: np.random.Generator, size: int, geography: Geography, counters: IdentityCounters, seed: int
) -> People:
    household, ward = _households(rng, size, geography)
    is_male = rng.random(size) < _MALE_SHARE
    birth = _birth_dates(rng, size)
    twin = _twins(rng, household)
    birth[twin] = birth[twin - 1]
    surname, middle, given = _names(rng, household, is_male, birth)
    namesake, model = _namesakes(rng, size)
    for column in (surname, middle, given, is_male):
        column[namesake] = column[model]
    ward[namesake] = ward[model]
    birth[namesake] = _same_year_other_day(rng, birth[model])
    full_name = np.array(
        [f"{s} {m} {g}" if m else f"{s} {g}" for s, m, g in zip(surname, middle, given, strict=True)], dtype=object
    )
    province_codes = geography.province_codes[geography.ward_province_index[ward]].astype(np.int64)
    birth_province = _birth_provinces(rng, province_codes)
    birth_province[twin] = birth_province[twin - 1]
    person_id = _personal_ids(birth_province, birth, is_male, counters, seed)
    held_cmnd, old_id = _cmnds(rng, person_id, birth, province_codes, counters, seed)
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    year_only = rng.random(size) < np.where(year < 1950, 0.03, 0.002)
    return People(
        person_id=person_id,
        old_id=old_id,
        held_cmnd=held_cmnd,
        surname=surname,
        middle=middle,
        given=given,
        full_name=full_name,
        birth=birth,
        year_only=year_only,
        is_male=is_male,
        ward=ward,
        address=_addresses(rng, household, ward, geography),
        household=household,
        in_register=rng.random(size) >= _ABSENT_FROM_REGISTER_RATE,
    )


def register_table(people: People, geography: Geography) -> pa.Table:
    """Section 1 rows of the people the register holds."""
    held = people.in_register
    birth_text = np.datetime_as_string(people.birth[held], unit="D")
    birth_text = np.where(people.year_only[held], birth_text.astype("<U4"), birth_text)
    ward = people.ward[held]
    return pa.table(
        {
            "person_id": pa.array(people.person_id[held], pa.string()),
            "old_id": pa.array(people.old_id[held], pa.string()),
            "full_name": pa.array(people.full_name[held], pa.string()),
            "birth_date": pa.array(birth_text, pa.string()),
            "sex": pa.array(np.where(people.is_male[held], "M", "F"), pa.string()),
            "province_code": pa.array(geography.province_codes[geography.ward_province_index[ward]], pa.string()),
            "district_code": pa.array(geography.ward_district_codes[ward], pa.string()),
            "ward_code": pa.array(geography.ward_codes[ward], pa.string()),
            "address": pa.array(people.address[held], pa.string()),
        }
    )


def _households(rng: np.random.Generator, size: int, geography: Geography) -> tuple[np.ndarray, np.ndarray]:
    sizes = rng.choice(_HOUSEHOLD_SIZES, size=size, p=_HOUSEHOLD_SIZE_SHARES)
    household = np.repeat(np.arange(size), sizes)[:size]
    count = int(household[-1]) + 1 if size else 0
    province_index = rng.choice(len(geography.province_codes), size=count, p=geography.province_probabilities)
    return household, geography.sample_wards(rng, province_index)[household]


def _birth_dates(rng: np.random.Generator, size: int) -> np.ndarray:
    bands = rng.choice(len(_AGE_BANDS), size=size, p=[band[2] for band in _AGE_BANDS])
    age = np.empty(size, dtype=np.int64)
    for index, (low, high, _) in enumerate(_AGE_BANDS):
        members = bands == index
        ages = np.arange(low, high + 1)
        # adults: flat to 55, then thinning out (fewer old people), truncated at 99
        weights = np.where(ages < 55, 1.0, np.exp(-(ages - 55) / 11.0))
        age[members] = rng.choice(ages, size=int(members.sum()), p=weights / weights.sum())
    days_old = (age * _DAYS_PER_YEAR + rng.random(size) * 365).astype(np.int64)
    return REFERENCE_DAY - days_old.astype("timedelta64[D]")


def _twins(rng: np.random.Generator, household: np.ndarray) -> np.ndarray:
    """Positions whose previous person (same household) is their twin."""
    same = np.flatnonzero(household[1:] == household[:-1]) + 1
    chosen = same[rng.random(len(same)) < _TWIN_RATE]
    return chosen[~np.isin(chosen - 1, chosen)]


def _names(
    rng: np.random.Generator, household: np.ndarray, is_male: np.ndarray, birth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = len(household)
    family = surnames()
    household_surname = family.sample(rng, int(household[-1]) + 1 if size else 0)[household]
    own_surname = family.sample(rng, size)
    surname_index = np.where(rng.random(size) < _SHARES_HOUSEHOLD_SURNAME, household_surname, own_surname)
    surname = np.asarray(family.values, dtype=object)[surname_index]
    middle = np.empty(size, dtype=object)
    given = np.empty(size, dtype=object)
    young = birth >= np.datetime64("1980-01-01")
    for sex, members_of_sex in (("M", is_male), ("F", ~is_male)):
        names = given_names(sex)
        given[members_of_sex] = np.asarray(names.values, dtype=object)[names.sample(rng, int(members_of_sex.sum()))]
        for cohort, in_cohort in (("old", ~young), ("young", young)):
            members = members_of_sex & in_cohort
            middles = middle_names(sex, cohort)
            middle[members] = np.asarray(middles.values, dtype=object)[middles.sample(rng, int(members.sum()))]
    return surname, middle, given


def _namesakes(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """People given the full name, sex, ward and birth year of another person of the chunk."""
    chosen = np.flatnonzero(rng.random(size) < _NAMESAKE_RATE)
    models = rng.integers(0, size, len(chosen))
    keep = (models != chosen) & ~np.isin(models, chosen)
    return chosen[keep], models[keep]


def _same_year_other_day(rng: np.random.Generator, birth: np.ndarray) -> np.ndarray:
    year_start = birth.astype("datetime64[Y]").astype("datetime64[D]")
    other = year_start + rng.integers(0, 365, len(birth)).astype("timedelta64[D]")
    return np.where(other == birth, other + np.timedelta64(1, "D"), other)


def _birth_provinces(rng: np.random.Generator, residence: np.ndarray) -> np.ndarray:
    everywhere = province_weights()
    elsewhere = np.asarray(everywhere.values, dtype=np.int64)[everywhere.sample(rng, len(residence))]
    return np.where(rng.random(len(residence)) < _BORN_ELSEWHERE_RATE, elsewhere, residence)


def serials_in_buckets(buckets: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Next serial numbers per bucket for each element, advancing the counters (vectorised cumcount)."""
    order = np.argsort(buckets, kind="stable")
    sorted_buckets = buckets[order]
    starts = np.flatnonzero(np.r_[True, sorted_buckets[1:] != sorted_buckets[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(buckets)]))
    rank = np.empty(len(buckets), dtype=np.int64)
    rank[order] = np.arange(len(buckets)) - group_start
    serial = counters[buckets] + rank
    counters += np.bincount(buckets, minlength=len(counters))
    return serial


def _scramble(serial: np.ndarray, bucket: np.ndarray, modulus: int, seed: int) -> np.ndarray:
    offset = (bucket * 7919 + seed * 104_729) % modulus
    return (serial * _SCRAMBLE_MULTIPLIER + offset) % modulus


def _personal_ids(
    birth_province: np.ndarray, birth: np.ndarray, is_male: np.ndarray, counters: IdentityCounters, seed: int
) -> np.ndarray:
    """`0PP G YY RRRRRR`: birth-registration province, century and sex, year, a unique random range."""
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    century_sex = (year // 100 - 19) * 2 + (~is_male).astype(np.int64)
    two_digit_year = year % 100
    bucket = (birth_province * 10 + century_sex) * 100 + two_digit_year
    serial = serials_in_buckets(bucket, counters.cccd)
    number = bucket * 1_000_000 + _scramble(serial, bucket, 1_000_000, seed)
    return _zero_padded(number, 12)


def _zero_padded(numbers: np.ndarray, width: int) -> np.ndarray:
    if not len(numbers):  # numpy's zfill cannot size an empty array
        return np.zeros(0, dtype=f"<U{width}")
    return np.char.zfill(numbers.astype(f"U{width}"), width)


def _cmnd_prefix(province_code: np.ndarray) -> np.ndarray:
    """Synthetic 2-digit CMND police prefixes 01-38 (several provinces share one, as in reality)."""
    return province_code % 38 + 1


def _cmnds(
    rng: np.random.Generator,
    person_id: np.ndarray,
    birth: np.ndarray,
    province_code: np.ndarray,
    counters: IdentityCounters,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    size = len(person_id)
    holder = (birth < np.datetime64("2005-01-01")) & (rng.random(size) < _CMND_HOLDER_RATE)
    twelve_digit = holder & (rng.random(size) < _CMND_12_DIGIT_SHARE)
    nine_digit = holder & ~twelve_digit
    prefix = _cmnd_prefix(province_code[nine_digit])
    serial = serials_in_buckets(prefix, counters.cmnd)
    number = prefix * 10_000_000 + _scramble(serial, prefix, 10_000_000, seed)
    held = np.full(size, "", dtype="<U12")
    held[nine_digit] = _zero_padded(number, 9)
    held[twelve_digit] = person_id[twelve_digit]
    reissued = np.flatnonzero(nine_digit & (rng.random(size) < _CMND_REISSUED_RATE))
    nine_digit_holders = np.flatnonzero(nine_digit)
    if len(reissued) and len(nine_digit_holders):
        held[reissued] = held[rng.choice(nine_digit_holders, len(reissued))]
    recorded = holder & (rng.random(size) >= _CMND_UNRECORDED_RATE)
    return held, np.where(recorded, held, "")


def _addresses(rng: np.random.Generator, household: np.ndarray, ward: np.ndarray, geography: Geography) -> np.ndarray:
    count = int(household[-1]) + 1 if len(household) else 0
    house = rng.integers(1, 300, count)
    group = rng.integers(1, 25, count)
    village_word = np.where(rng.random(count) < 0.5, "Tổ", "Thôn")
    place = geography.ward_place[ward]
    first = np.r_[0, np.flatnonzero(household[1:] != household[:-1]) + 1]
    household_place = place[first]
    text = np.array(
        [f"Số {h}, {v} {g}, {p}" for h, v, g, p in zip(house, village_word, group, household_place, strict=True)],
        dtype=object,
    )[household]
    return np.where(rng.random(len(household)) < _NO_ADDRESS_RATE, "", text)
