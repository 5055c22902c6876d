"""Foreign residents vaccinated in Viet Nam: identified by passport, never sent to the register."""

from dataclasses import dataclass

import numpy as np

from tiemchung.synth.damage import BIRTH_EXCEL, BIRTH_TEXT_DMY, Typed
from tiemchung.synth.geography import Geography
from tiemchung.synth.population import REFERENCE_DAY
from tiemchung.synth.tables import foreign_nationalities
from tiemchung.synth.vaccination import Schedules, make_schedules


@dataclass
class Foreigners:
    birth: np.ndarray
    ward: np.ndarray
    schedules: Schedules
    entered: np.ndarray  # (n, 6) bool: every dose of a foreigner is entered
    passport: np.ndarray  # object
    nationality: np.ndarray  # object: ISO code or the Vietnamese name, as offices typed it
    typed: Typed


def make_foreigners(rng: np.random.Generator, count: int, geography: Geography) -> Foreigners:
    """Up to `count` adult foreigners (20-65) in the provinces' proportions: those who got at least one dose."""
    age_days = rng.integers(20 * 365, 65 * 365, count).astype("timedelta64[D]")
    birth = REFERENCE_DAY - age_days
    province = rng.choice(len(geography.province_codes), size=count, p=geography.province_probabilities)
    ward = geography.sample_wards(rng, province)
    schedules = make_schedules(rng, birth, force_adult=True)
    vaccinated = ~np.isnat(schedules.dates[:, 0])
    count = int(vaccinated.sum())
    birth, ward = birth[vaccinated], ward[vaccinated]
    schedules = Schedules(schedules.dates[vaccinated], schedules.vaccine[vaccinated], schedules.group[vaccinated])
    choice, nationalities = foreign_nationalities()
    which = choice.sample(rng, count)
    names = np.array(
        [nationalities[n].full_names[int(rng.integers(len(nationalities[n].full_names)))] for n in which], dtype=object
    )
    as_code = rng.random(count) < 0.5
    nationality = np.array(
        [nationalities[n].code if code else nationalities[n].name_vi for n, code in zip(which, as_code, strict=True)],
        dtype=object,
    )
    letters = np.array(list("BCEGKMNPSXY"))[rng.integers(0, 11, count)]
    digits = rng.integers(1_000_000, 99_999_999, count).astype(str)
    passport = np.char.add(letters, digits).astype(object)
    is_male = rng.random(count) < 0.6
    sex = np.where(is_male, "M", "F").astype(object)
    typed = Typed(
        full_name=names,
        name_font=np.full(count, "", dtype=object),
        name_meaning=names.copy(),
        birth_shown=np.datetime_as_string(birth, unit="D").astype(object),
        birth_meaning=np.datetime_as_string(birth, unit="D").astype(object),
        birth_style=np.where(rng.random(count) < 0.5, BIRTH_TEXT_DMY, BIRTH_EXCEL),
        sex_meaning=sex,
        sex_typed=np.where(is_male, "Nam", "Nữ").astype(object),
        id_typed=np.full(count, "", dtype=object),
        id_numeric=np.zeros(count, dtype=bool),
        errors=np.full(count, "", dtype=object),
    )
    entered = ~np.isnat(schedules.dates)
    return Foreigners(birth, ward, schedules, entered, passport, nationality, typed)
