"""The eight COVID-19 vaccines licensed in Viet Nam, the dose kinds, the report age groups and reason groups.

EU DCC codes are those of the EU value sets (ehn-dcc-development/eu-dcc-valuesets: vaccine-medicinal-product.json,
vaccine-mah-manf.json, vaccine-prophylaxis.json) as their vaccine-encoding-instructions.json assigns them:
Vero Cell is Sinopharm's BBIBP-CorV (Beijing Institute), Hayat-Vax is made by Gulf Pharmaceutical Industries.
The prophylaxis codes are the specific SNOMED CT types the instructions list (J07BX03 only for Abdala, the one
type the instructions give it).
"""

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache

from tiemchung.identity.dates import PartialDate
from tiemchung.identity.names import fold_name

MRNA = "1119349007"  # SARS-CoV-2 mRNA vaccine
VIRAL_VECTOR = "29061000087103"  # COVID-19 non-replicating viral vector vaccine
INACTIVATED = "1157024006"  # Inactivated whole SARS-CoV-2 antigen vaccine
ATC_COVID_19 = "J07BX03"  # covid-19 vaccines (ATC)


@dataclass(frozen=True)
class Vaccine:
    key: str  # the spec's common name: "AstraZeneca"
    name_vi: str
    medicinal_product: str  # EU DCC "mp"
    manufacturer: str  # EU DCC "ma"
    prophylaxis: str  # EU DCC "vp"
    primary_doses: int
    aliases: tuple[str, ...]


_VACCINES: tuple[Vaccine, ...] = (
    Vaccine(
        "AstraZeneca", "AstraZeneca (Vaxzevria)", "EU/1/21/1529", "ORG-100001699", VIRAL_VECTOR, 2,
        ("AZ", "Astra", "Astra Zeneca", "Vaxzevria", "Covishield", "ChAdOx1", "AZD1222"),
    ),
    Vaccine(
        "Sputnik V", "Sputnik V (Gam-COVID-Vac)", "Sputnik-V", "Gamaleya-Research-Institute", VIRAL_VECTOR, 2,
        ("Sputnik", "SputnikV", "Gam-COVID-Vac", "Gamaleya"),
    ),
    Vaccine(
        "Vero Cell", "Vero Cell (Sinopharm)", "BBIBP-CorV", "ORG-100020693", INACTIVATED, 2,
        ("VeroCell", "Sinopharm", "BBIBP-CorV", "BBIBP", "Sinopharm Vero Cell"),
    ),
    Vaccine(
        "Hayat-Vax", "Hayat-Vax", "Hayat-Vax", "ORG-100023050", INACTIVATED, 2,
        ("Hayat", "HayatVax", "Hayat Vax"),
    ),
    Vaccine(
        "Pfizer", "Pfizer (Comirnaty)", "EU/1/20/1528", "ORG-100030215", MRNA, 2,
        ("Pfizer-BioNTech", "Pfizer BioNTech", "BioNTech", "Comirnaty", "BNT162b2"),
    ),
    Vaccine(
        "Moderna", "Moderna (Spikevax)", "EU/1/20/1507", "ORG-100031184", MRNA, 2,
        ("Spikevax", "mRNA-1273"),
    ),
    Vaccine(
        "Janssen", "Janssen (Johnson & Johnson)", "EU/1/20/1525", "ORG-100001417", VIRAL_VECTOR, 1,
        ("J&J", "Johnson & Johnson", "Johnson", "Jcovden", "Ad26.COV2.S"),
    ),
    Vaccine(
        "Abdala", "Abdala", "Abdala", "CIGB", ATC_COVID_19, 3,
        ("CIGB-66", "CIGB66"),
    ),
)  # fmt: skip


def vaccines() -> tuple[Vaccine, ...]:
    return _VACCINES


def _vaccine_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold_name(text))


@cache
def _vaccine_index() -> dict[str, Vaccine]:
    index: dict[str, Vaccine] = {}
    for vaccine in _VACCINES:
        for name in (vaccine.key, vaccine.name_vi, vaccine.medicinal_product, *vaccine.aliases):
            index[_vaccine_key(name)] = vaccine
    return index


def vaccine_by_name(text: str) -> Vaccine | None:
    """By common name, EU product name or usual alias, ignoring case, diacritics, spaces and punctuation."""
    if not isinstance(text, str):
        return None
    key = _vaccine_key(text)
    key = re.sub(r"^(vacxin|vaccine|vaccin|vx)", "", key) or key
    exact = _vaccine_index().get(key)
    if exact is not None or len(key) < _MIN_CONTAINED_NAME:
        return exact
    # "Pfizer-BioNTech (Comirnaty)", "AstraZeneca (Covishield)": names of one vaccine inside the cell, and no other's.
    contained = {
        vaccine.key: vaccine
        for name, vaccine in _vaccine_index().items()
        if len(name) >= _MIN_CONTAINED_NAME and name in key
    }
    return next(iter(contained.values())) if len(contained) == 1 else None


_MIN_CONTAINED_NAME = 5  # shorter names (AZ, J&J, Hayat) only match a whole cell


class DoseKind(StrEnum):
    PRIMARY_1 = "1"
    PRIMARY_2 = "2"
    PRIMARY_3 = "3"
    ADDITIONAL = "additional"
    BOOSTER_1 = "booster_1"
    BOOSTER_2 = "booster_2"

    @property
    def label_vi(self) -> str:
        """The seed report's column heading."""
        return _DOSE_LABELS_VI[self]

    @property
    def spec_value(self) -> str:
        """The value of the interchange file's `dose` column."""
        return _DOSE_SPEC_VALUES[self]

    @property
    def booster_number(self) -> int | None:
        return {DoseKind.BOOSTER_1: 1, DoseKind.BOOSTER_2: 2}.get(self)


_DOSE_LABELS_VI: dict[DoseKind, str] = {
    DoseKind.PRIMARY_1: "Mũi 1",
    DoseKind.PRIMARY_2: "Mũi 2",
    DoseKind.PRIMARY_3: "Mũi 3 (vx Abdala)",
    DoseKind.ADDITIONAL: "Liều bổ sung",
    DoseKind.BOOSTER_1: "Liều nhắc 1 (Mũi 3)",
    DoseKind.BOOSTER_2: "Liều nhắc 2 (Mũi 4)",
}
_DOSE_SPEC_VALUES: dict[DoseKind, str] = {
    DoseKind.PRIMARY_1: "1",
    DoseKind.PRIMARY_2: "2",
    DoseKind.PRIMARY_3: "3",
    DoseKind.ADDITIONAL: "Liều bổ sung",
    DoseKind.BOOSTER_1: "Nhắc lại 1",
    DoseKind.BOOSTER_2: "Nhắc lại 2",
}
_PRIMARY_BY_NUMBER = {1: DoseKind.PRIMARY_1, 2: DoseKind.PRIMARY_2, 3: DoseKind.PRIMARY_3}
_BOOSTER_BY_NUMBER = {1: DoseKind.BOOSTER_1, 2: DoseKind.BOOSTER_2}
_BOOSTER_WORDS = re.compile(r"^(?:lieu |mui )?(?:tiem )?(?:nhac lai|nhac|booster)(?: lan)?[ _]?([12])(?: mui [34])?$")
_PRIMARY_WORDS = re.compile(r"^(?:mui|lieu|dose|m)(?: co ban)?(?: so)?[ _]?([123])(?: vx abdala| abdala)?$")
_ADDITIONAL_WORDS = frozenset({"lieu bo sung", "bo sung", "mui bo sung", "additional", "additional dose"})


def parse_dose_kind(text: object) -> DoseKind | None:
    """The spec values ("1", "2", "3", "Liều bổ sung", "Nhắc lại 1", "Nhắc lại 2") and usual variants: 1, 1.0,
    "Mũi 1", "Liều nhắc 1", "Liều nhắc 1 (Mũi 3)", "booster 1", "booster_1", the enum values. "Mũi 3" is the
    third primary dose (Abdala), as in the spec; a bare "Mũi 4" is ambiguous and gives None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return _PRIMARY_BY_NUMBER.get(text)
    if isinstance(text, float):
        return _PRIMARY_BY_NUMBER.get(int(text)) if text.is_integer() else None
    if not isinstance(text, str):
        return None
    folded = " ".join(re.sub(r"[^a-z0-9_]+", " ", fold_name(text)).split())
    if folded in ("1", "2", "3"):
        return _PRIMARY_BY_NUMBER[int(folded)]
    if folded in _ADDITIONAL_WORDS:
        return DoseKind.ADDITIONAL
    if match := _BOOSTER_WORDS.match(folded):
        return _BOOSTER_BY_NUMBER[int(match.group(1))]
    if match := _PRIMARY_WORDS.match(folded):
        return _PRIMARY_BY_NUMBER[int(match.group(1))]
    return None


def dcc_dose_numbers(kind: DoseKind, vaccine: Vaccine) -> tuple[int, int]:
    """(dn, sd) for the EU DCC, per Commission Implementing Decision (EU) 2021/2301.

    - Primary dose k: (k, length of the vaccine's primary series); a dose beyond the series is (k, k).
    - Additional dose and boosters continue the count and mark the series complete: dn = sd. The additional dose
      is primary length + 1; booster n is primary length + n (AstraZeneca booster 1 -> (3, 3); Janssen primary
      1 -> (1, 1), booster 1 -> (2, 2); Abdala booster 1 -> (4, 4)). A person who had an additional dose and
      then boosters is counted from the dose kind alone; the certificate issuer may count the person's real
      doses instead.
    """
    series = vaccine.primary_doses
    if kind in _PRIMARY_NUMBERS:
        number = _PRIMARY_NUMBERS[kind]
        return (number, max(number, series))
    if kind == DoseKind.ADDITIONAL:
        return (series + 1, series + 1)
    booster = kind.booster_number or 1
    return (series + booster, series + booster)


_PRIMARY_NUMBERS = {kind: number for number, kind in _PRIMARY_BY_NUMBER.items()}


class AgeGroup(StrEnum):
    ADULT = "18+"
    TEEN = "12-17"
    CHILD = "5-11"

    @property
    def label_vi(self) -> str:
        return _AGE_LABELS_VI[self]


_AGE_LABELS_VI: dict[AgeGroup, str] = {
    AgeGroup.ADULT: "Từ 18 tuổi trở lên",
    AgeGroup.TEEN: "12-17 tuổi",
    AgeGroup.CHILD: "5-11 tuổi",
}


def age_in_years(birth: date | PartialDate, on: date) -> int:
    """Completed years on `on`. A year-only birth counts as on.year - year (as if born on 1 January: reports
    count by birth year); a birth known to the month counts the month as complete on its first day."""
    if isinstance(birth, date):
        return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if birth.month is None:
        return on.year - birth.year
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day or 1))


def age_group(birth: date | PartialDate, on: date) -> AgeGroup | None:
    """The report age group at the vaccination date; None under 5 (or born after `on`)."""
    age = age_in_years(birth, on)
    if age >= 18:
        return AgeGroup.ADULT
    if age >= 12:
        return AgeGroup.TEEN
    if age >= 5:
        return AgeGroup.CHILD
    return None


class ReasonGroup(StrEnum):
    """Why doses given were not entered (seed 001, appendix 2)."""

    GROUP_1 = "1"
    GROUP_2 = "2"
    GROUP_3 = "3"
    GROUP_4 = "4"
    GROUP_5 = "5"
    GROUP_6 = "6"
    OTHER = "other"

    @property
    def label_vi(self) -> str:
        return _REASON_LABELS_VI[self]


_REASON_LABELS_VI: dict[ReasonGroup, str] = {
    ReasonGroup.GROUP_1: "Số đối tượng không có thông tin (Nhóm 1)",
    ReasonGroup.GROUP_2: "Số đối tượng đã đi khỏi địa phương (Nhóm 2)",
    ReasonGroup.GROUP_3: "Số người thuộc lực lượng công an (Nhóm 3)",
    ReasonGroup.GROUP_4: "Số người thuộc lực lượng quân đội (Nhóm 4)",
    ReasonGroup.GROUP_5: "Đối tượng phạm nhân (Nhóm 5)",
    ReasonGroup.GROUP_6: "Đối tượng TT cai nghiện, TT bảo trợ xã hội (Nhóm 6)",
    ReasonGroup.OTHER: "Khác (ghi rõ nhóm đối tượng)",
}
