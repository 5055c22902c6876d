"""Provinces, districts, wards and vaccination facilities as numpy arrays, for vectorised sampling.

The administrative units come from `tiemchung.reference` (GSO codes in force 2021–2023); the weights from
`data/province_weights.csv`. Facility codes are invented but structured: the commune health station of the
k-th ward of a district (wards ordered by code) is `PP.DDD.kkk` (e.g. "79.760.001"), the district health
centre is `PP.DDD.000`.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tiemchung import reference
from tiemchung.synth.tables import province_weights


@dataclass(frozen=True)
class Geography:
    province_codes: np.ndarray  # (P,) str, the provinces in play
    province_probabilities: np.ndarray  # (P,)
    ward_codes: np.ndarray  # (W,) str, grouped by province
    ward_district_codes: np.ndarray  # (W,) str
    ward_province_index: np.ndarray  # (W,) int
    ward_place: np.ndarray  # (W,) str: "ward, district, province" for addresses
    station_codes: np.ndarray  # (W,) str: the ward's commune health station
    ward_district_index: np.ndarray  # (W,) int, index into centre_codes
    centre_codes: np.ndarray  # (D,) str: the district health centres
    first_ward: np.ndarray  # (P,) int: offset of the province's wards
    ward_count: np.ndarray  # (P,) int

    def sample_wards(self, rng: np.random.Generator, province_index: np.ndarray) -> np.ndarray:
        """A uniformly chosen ward of each given province (indices into the ward arrays)."""
        offsets = (rng.random(len(province_index)) * self.ward_count[province_index]).astype(np.int64)
        return self.first_ward[province_index] + offsets

    def other_wards(self, rng: np.random.Generator, ward: np.ndarray, distance: str) -> np.ndarray:
        """For each ward, another one at `distance`: "ward" (another ward of the same district), "district"
        (a ward of another district of the same province) or "province" (a ward of another province, by population
        weight); -1 where the area has none (a commune-scale country has no other ward)."""
        result = np.full(len(ward), -1, dtype=np.int64)
        pending = np.arange(len(ward))
        for _ in range(8):  # rejection sampling: a few rounds leave almost nothing undecided
            if not len(pending):
                break
            own = ward[pending]
            if distance == "ward":
                district = self.ward_district_index[own]
                first = np.searchsorted(self.ward_district_index, district)
                count = np.searchsorted(self.ward_district_index, district, side="right") - first
                candidate = first + (rng.random(len(own)) * count).astype(np.int64)
                accepted = candidate != own
            elif distance == "district":
                candidate = self.sample_wards(rng, self.ward_province_index[own])
                accepted = self.ward_district_index[candidate] != self.ward_district_index[own]
            else:
                province = rng.choice(len(self.province_codes), size=len(own), p=self.province_probabilities)
                candidate = self.sample_wards(rng, province)
                accepted = province != self.ward_province_index[own]
            result[pending[accepted]] = candidate[accepted]
            pending = pending[~accepted]
        return result

    @property
    def facility_codes(self) -> np.ndarray:
        """Facility index -> code: the stations (one per ward), then the district centres."""
        return np.concatenate([self.station_codes, self.centre_codes])

    def station_facility(self, ward: np.ndarray) -> np.ndarray:
        return ward

    def centre_facility(self, ward: np.ndarray) -> np.ndarray:
        return len(self.ward_codes) + self.ward_district_index[ward]


@dataclass(frozen=True)
class Area:
    """Where the synthetic people live: some provinces (None: all), or one district, or one ward."""

    province_codes: tuple[str, ...] | None = None
    district_code: str | None = None
    ward_code: str | None = None


def area_for_scale(scale: str | None, seed: int, province_codes: Sequence[str] | None) -> Area:
    """A commune-, district- or province-scale country lives in one ward, district or province.

    The unit is drawn from the seed (province by population weight, then district and ward uniformly),
    among `province_codes` when given; other scales keep the given provinces (all by default).
    """

    given = tuple(province_codes) if province_codes else None
    if scale not in ("commune", "district", "province"):
        return Area(given)
    rng = np.random.default_rng([seed, 1 << 20])  # a stream of its own: the people's chunks use [seed, i]
    weights = province_weights()
    allowed = [i for i, code in enumerate(weights.values) if given is None or code in given]
    shares = weights.probabilities[allowed] / weights.probabilities[allowed].sum()
    province = weights.values[allowed[int(rng.choice(len(allowed), p=shares))]]
    if scale == "province":
        return Area((province,))
    districts = sorted(str(d.code) for d in reference.districts(province))
    district = districts[int(rng.integers(len(districts)))]
    if scale == "district":
        return Area((province,), district)
    wards = sorted(str(w.code) for w in reference.wards(district))
    return Area((province,), district, wards[int(rng.integers(len(wards)))])


def load_geography(area: Area | None = None) -> Geography:
    """The reference units of `area` (all of Viet Nam by default), province weights renormalised."""

    area = area or Area()
    province_codes = area.province_codes

    weights = province_weights()
    wanted = set(province_codes) if province_codes else set(weights.values)
    chosen = [i for i, code in enumerate(weights.values) if code in wanted]
    probabilities = weights.probabilities[chosen] / weights.probabilities[chosen].sum()
    by_code = {str(p.code).zfill(2): p for p in reference.provinces()}
    columns: dict[str, list[str]] = {k: [] for k in ("ward", "district", "place", "station")}
    centre_codes: list[str] = []
    ward_district_index: list[int] = []
    province_index: list[int] = []
    first_ward: list[int] = []
    ward_count: list[int] = []
    for index, weight_index in enumerate(chosen):
        province = by_code[weights.values[weight_index]]
        first_ward.append(len(province_index))
        for district in sorted(reference.districts(province.code), key=lambda d: str(d.code)):
            district_code = str(district.code).zfill(3)
            if area.district_code not in (None, district_code):
                continue
            prefix = f"{str(province.code).zfill(2)}.{district_code}"
            wards = sorted(reference.wards(district.code), key=lambda w: str(w.code))
            centre_codes.append(f"{prefix}.000")
            for k, ward in enumerate(wards, start=1):
                if area.ward_code not in (None, str(ward.code).zfill(5)):
                    continue
                columns["ward"].append(str(ward.code).zfill(5))
                columns["district"].append(district_code)
                columns["place"].append(f"{ward.full_name}, {district.full_name}, {province.full_name}")
                columns["station"].append(f"{prefix}.{k:03d}")
                ward_district_index.append(len(centre_codes) - 1)
                province_index.append(index)
        ward_count.append(len(province_index) - first_ward[-1])
    return Geography(
        province_codes=np.asarray([weights.values[i] for i in chosen]),
        province_probabilities=probabilities,
        ward_codes=np.asarray(columns["ward"]),
        ward_district_codes=np.asarray(columns["district"]),
        ward_province_index=np.asarray(province_index, dtype=np.int64),
        ward_place=np.asarray(columns["place"], dtype=object),
        station_codes=np.asarray(columns["station"]),
        ward_district_index=np.asarray(ward_district_index, dtype=np.int64),
        centre_codes=np.asarray(centre_codes),
        first_ward=np.asarray(first_ward, dtype=np.int64),
        ward_count=np.asarray(ward_count, dtype=np.int64),
    )
