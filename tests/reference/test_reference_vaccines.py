"""Vaccines (EU DCC codes), dose kinds, DCC dose numbers, age groups, reason groups."""

from datetime import date

import pytest

from tiemchung.identity import PartialDate
from tiemchung.reference import (
    AgeGroup,
    DoseKind,
    ReasonGroup,
    age_group,
    dcc_dose_numbers,
    parse_dose_kind,
    vaccine_by_name,
    vaccines,
)

# Codes from the EU DCC value sets (eu-dcc-valuesets vaccine-encoding-instructions.json).
EXPECTED_CODES = {
    "AstraZeneca": ("EU/1/21/1529", "ORG-100001699", 2),
    "Sputnik V": ("Sputnik-V", "Gamaleya-Research-Institute", 2),
    "Vero Cell": ("BBIBP-CorV", "ORG-100020693", 2),
    "Hayat-Vax": ("Hayat-Vax", "ORG-100023050", 2),
    "Pfizer": ("EU/1/20/1528", "ORG-100030215", 2),
    "Moderna": ("EU/1/20/1507", "ORG-100031184", 2),
    "Janssen": ("EU/1/20/1525", "ORG-100001417", 1),
    "Abdala": ("Abdala", "CIGB", 3),
}


def test_the_eight_vaccines_with_their_eu_dcc_codes():
    assert {vaccine.key: (vaccine.medicinal_product, vaccine.manufacturer, vaccine.primary_doses)
            for vaccine in vaccines()} == EXPECTED_CODES  # fmt: skip
    prophylaxis = {vaccine.key: vaccine.prophylaxis for vaccine in vaccines()}
    assert prophylaxis["Pfizer"] == prophylaxis["Moderna"] == "1119349007"
    assert prophylaxis["Vero Cell"] == prophylaxis["Hayat-Vax"] == "1157024006"
    assert prophylaxis["AstraZeneca"] == prophylaxis["Janssen"] == prophylaxis["Sputnik V"] == "29061000087103"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("AstraZeneca", "AstraZeneca"), ("AZ", "AstraZeneca"), ("astra", "AstraZeneca"),
        ("Vaxzevria", "AstraZeneca"), ("Comirnaty", "Pfizer"), ("pfizer-biontech", "Pfizer"),
        ("Spikevax", "Moderna"), ("Sinopharm", "Vero Cell"), ("VERO CELL", "Vero Cell"),
        ("J&J", "Janssen"), ("Sputnik-V", "Sputnik V"), ("Hayat Vax", "Hayat-Vax"),
        ("Vắc xin Abdala", "Abdala"), ("abdala", "Abdala"), ("Pfizer-BioNTech (Comirnaty)", "Pfizer"),
        ("AstraZeneca (Covishield)", "AstraZeneca"), ("Vero Cell của Sinopharm", "Vero Cell"),
    ],
)  # fmt: skip
def test_vaccine_by_name_and_alias(text, key):
    found = vaccine_by_name(text)
    assert found is not None and found.key == key


@pytest.mark.parametrize("text", ["", "Sinovac", "vaccine", None, 3, "Pfizer hoặc Moderna", "xAZx"])
def test_unknown_vaccine_is_none(text):
    assert vaccine_by_name(text) is None


@pytest.mark.parametrize("kind", list(DoseKind))
def test_dose_kind_spec_value_and_enum_value_parse_back(kind):
    assert parse_dose_kind(kind.spec_value) is kind
    assert parse_dose_kind(kind.value) is kind
    assert parse_dose_kind(kind.label_vi) is kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (1, DoseKind.PRIMARY_1), (2.0, DoseKind.PRIMARY_2), ("Mũi 1", DoseKind.PRIMARY_1),
        ("mui 2", DoseKind.PRIMARY_2), ("Liều nhắc 1", DoseKind.BOOSTER_1), ("booster 2", DoseKind.BOOSTER_2),
        ("NHẮC LẠI 1", DoseKind.BOOSTER_1), ("bổ sung", DoseKind.ADDITIONAL), ("Mũi nhắc lại 2", DoseKind.BOOSTER_2),
        ("nhắc lại lần 1", DoseKind.BOOSTER_1), ("Mũi cơ bản 2", DoseKind.PRIMARY_2), ("Mũi số 1", DoseKind.PRIMARY_1),
    ],
)  # fmt: skip
def test_dose_kind_variants(text, kind):
    assert parse_dose_kind(text) is kind


@pytest.mark.parametrize("text", ["Mũi 4", "4", 1.5, None, "", "nhắc lại", True])
def test_ambiguous_or_unknown_dose_is_none(text):
    assert parse_dose_kind(text) is None


@pytest.mark.parametrize(
    ("kind", "vaccine", "numbers"),
    [
        (DoseKind.PRIMARY_1, "AstraZeneca", (1, 2)),
        (DoseKind.PRIMARY_2, "AstraZeneca", (2, 2)),
        (DoseKind.BOOSTER_1, "AstraZeneca", (3, 3)),
        (DoseKind.BOOSTER_2, "Pfizer", (4, 4)),
        (DoseKind.ADDITIONAL, "Moderna", (3, 3)),
        (DoseKind.PRIMARY_1, "Janssen", (1, 1)),
        (DoseKind.BOOSTER_1, "Janssen", (2, 2)),
        (DoseKind.PRIMARY_3, "Abdala", (3, 3)),
        (DoseKind.PRIMARY_2, "Abdala", (2, 3)),
        (DoseKind.BOOSTER_1, "Abdala", (4, 4)),
    ],
)
def test_dcc_dose_numbers(kind, vaccine, numbers):
    assert dcc_dose_numbers(kind, vaccine_by_name(vaccine)) == numbers


def test_age_groups_at_the_vaccination_date():
    on = date(2022, 6, 15)
    assert age_group(date(2004, 6, 15), on) is AgeGroup.ADULT
    assert age_group(date(2004, 6, 16), on) is AgeGroup.TEEN
    assert age_group(date(2010, 6, 15), on) is AgeGroup.TEEN
    assert age_group(date(2010, 6, 16), on) is AgeGroup.CHILD
    assert age_group(date(2017, 6, 15), on) is AgeGroup.CHILD
    assert age_group(date(2017, 6, 16), on) is None
    assert age_group(PartialDate(2010), on) is AgeGroup.TEEN  # year-only: on.year - year
    assert age_group(PartialDate(2010, 7), on) is AgeGroup.CHILD
    assert AgeGroup.ADULT.label_vi == "Từ 18 tuổi trở lên"


def test_reason_group_labels_follow_the_seed():
    assert ReasonGroup.GROUP_1.label_vi == "Số đối tượng không có thông tin (Nhóm 1)"
    assert ReasonGroup.GROUP_6.label_vi.endswith("(Nhóm 6)")
    assert len(ReasonGroup) == 7
