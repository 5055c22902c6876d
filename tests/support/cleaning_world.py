"""A commune at a real cleaning scale for the page tests: 2,000 lines on one open list in Phúc Xá (three villages,
the three problems of seed 000) and, in Trúc Bạch next door, a list of 300 lines already with the commune police.

Built through the workflow itself (`build_worklist`, `assign`, `record_family_answer`, `send_to_police`), so the
lines, their history and their states are those the pages really meet. Users: `tram`, `thon` (Thôn Bắc), `congan`
in Phúc Xá; `tram2`, `thon2`, `congan2` in Trúc Bạch.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support.cleaning_factories import HOME_WARD, add_user, add_village
from tiemchung.health.cleaning import workflow
from tiemchung.health.cleaning.models import CleaningWorklist
from tiemchung.health.registry.models import Role, Subject
from tiemchung.identity import IdentityInput, canonical_name, fold_name

NEXT_WARD = ("01", "001", "00004")
FAMILY_NAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
MIDDLE_NAMES = ("Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh")
GIVEN_NAMES = ("An", "Bình", "Cường", "Dung", "Giang", "Hà", "Hải", "Hoa", "Khánh", "Lan", "Long", "Mai", "Nam")


@dataclass(frozen=True)
class CleaningWorld:
    open_worklist_id: int
    police_worklist_id: int
    village_ids: dict[str, int]


def person_name(index: int) -> str:
    return " ".join(
        (
            FAMILY_NAMES[index % len(FAMILY_NAMES)],
            MIDDLE_NAMES[index // 10 % len(MIDDLE_NAMES)],
            GIVEN_NAMES[index // 60 % len(GIVEN_NAMES)],
        )
    )


def _subject(index: int, ward: tuple[str, str, str]) -> Subject:
    """Every third person has no ID, every third a malformed one, the rest disagree with the register."""
    name = person_name(index)
    year = 1940 + index % 60
    kind = index % 3
    return Subject(
        subject_key=f"{ward[2]}-{index}",
        full_name_raw=name,
        full_name=name,
        name_canonical=canonical_name(name),
        name_folded=fold_name(name),
        birth_date_raw=f"{year}-0{1 + index % 9}-1{index % 10}",
        birth_date=f"{year}-0{1 + index % 9}-1{index % 10}",
        birth_year=year,
        sex="M" if index % 2 else "F",
        id_number_raw={0: "", 1: f"00{index}", 2: f"001{year % 100:02d}0{index:06d}"}[kind],
        id_number=f"001{year % 100:02d}0{index:06d}" if kind == 2 else None,
        id_kind="cccd" if kind == 2 else "none",
        id_status={0: "missing", 1: "invalid", 2: "valid"}[kind],
        province_code=ward[0],
        district_code=ward[1],
        ward_code=ward[2],
        verification_category="MISMATCH" if kind == 2 else "NO_ID_UNVERIFIABLE",
        verification_reasons="NAME;BIRTH_DATE" if kind == 2 else "",
        matched_person_id=f"001{year % 100:02d}0{index + 500_000:06d}" if kind == 2 else None,
        match_probability=0.97 if kind == 2 else None,
    )


def build_cleaning_world(session: Session, *, lines: int = 2000, police_lines: int = 300) -> CleaningWorld:
    villages = {name: add_village(session, name).id for name in ("Thôn Bắc", "Thôn Đông", "Thôn Nam")}
    station = add_user(session, "tram", Role.HEALTH_STATION, HOME_WARD[2])
    add_user(session, "thon", Role.VILLAGE_TEAM, HOME_WARD[2], village_id=villages["Thôn Bắc"])
    add_user(session, "congan", Role.COMMUNE_POLICE, HOME_WARD[2])
    session.add_all(_subject(index, HOME_WARD) for index in range(lines))
    session.flush()
    _outcome, open_list = workflow.build_worklist(session, station, title="Đợt 1 năm 2024")
    assert open_list is not None
    # The first 100 lines are with the team of Thôn Bắc, the next 40 with Thôn Đông; the rest are not given yet.
    workflow.assign(session, station, open_list, [line.id for line in open_list.lines[:100]], villages["Thôn Bắc"])
    workflow.assign(session, station, open_list, [line.id for line in open_list.lines[100:140]], villages["Thôn Đông"])

    village = add_village(session, "Tổ dân phố 1", NEXT_WARD[2])
    station2 = add_user(session, "tram2", Role.HEALTH_STATION, NEXT_WARD[2])
    team2 = add_user(session, "thon2", Role.VILLAGE_TEAM, NEXT_WARD[2], village_id=village.id)
    add_user(session, "congan2", Role.COMMUNE_POLICE, NEXT_WARD[2])
    session.add_all(_subject(index, NEXT_WARD) for index in range(police_lines))
    session.flush()
    _outcome, police_list = workflow.build_worklist(session, station2, title="Đợt 1 năm 2024")
    assert police_list is not None
    workflow.assign(session, station2, police_list, [line.id for line in police_list.lines], village.id)
    for line in police_list.lines:
        answer = IdentityInput(id_number=f"0010{line.id:08d}") if line.problem != "WRONG_INFO" else IdentityInput()
        outcome = "corrected" if line.problem != "WRONG_INFO" else "confirmed_as_is"
        assert workflow.record_family_answer(session, team2, line, outcome, answer, "Đã xem thẻ CCCD").ok
    assert workflow.send_to_police(session, station2, police_list).ok
    session.commit()
    return CleaningWorld(open_list.id, police_list.id, villages)


def worklist_of(session: Session, worklist_id: int) -> CleaningWorklist:
    return session.scalars(select(CleaningWorklist).where(CleaningWorklist.id == worklist_id)).one()
