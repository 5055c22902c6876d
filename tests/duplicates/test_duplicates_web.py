"""The duplicates pages and API for the station and the province: the queue of the area (paged, filtered), the
comparison, gộp / không phải cùng một người / tách, a citizen's request, each audited and answered in place."""

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.certificates_world import FACILITY_PASSPHRASE, certificate_world
from tests.support.cleaning_factories import HOME_WARD, OTHER_WARD, add_subject
from tests.support.web_world import World, build_world
from tiemchung.health.certificates.keys import KeyLayout
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.certificates.signing import load_facility_key, sign_facility_day
from tiemchung.health.duplicates import review
from tiemchung.health.duplicates.detect import find_pairs
from tiemchung.health.duplicates.models import DuplicatePair, PairSource, PairState, SubjectMerge
from tiemchung.health.duplicates.review import store_pairs
from tiemchung.health.registry.models import AuditEvent, Dose, Facility, Subject

HTMX = {"HX-Request": "true"}


def _person(session: Session, key: str, name: str, folded: str, *, ward: tuple[str, str, str] = HOME_WARD,
            facility: str = "F-home", **fields: object) -> Subject:  # fmt: skip
    values: dict[str, object] = {"full_name": name, "full_name_raw": name, "name_canonical": name.lower(),
                                 "name_folded": folded, "birth_date": "1975-03-04", "birth_date_raw": "04/03/1975",
                                 "birth_year": 1975, "facility_code": facility}  # fmt: skip
    values.update(fields)
    return add_subject(session, key, ward=ward, **values)


def _dose(session: Session, subject: Subject, day: date, kind: str, facility: str) -> None:
    session.add(Dose(record_id=f"D-{subject.subject_key}-{day}", subject_id=subject.id, vaccine="Pfizer",
                     vaccination_date=day, dose_kind=kind, facility_code=facility))  # fmt: skip
    session.flush()


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path) -> World:
    """The web world plus one person registered twice in the home commune (dose 1 at a workplace campaign, dose 2 at
    the station, no ID either time), a namesake born the same day (another person), and a pair in another province."""
    world = build_world(session_factory, tmp_path / "keys")
    with session_factory() as session:
        session.add(Facility(code="F-campaign", name="Điểm tiêm lưu động KCN Thăng Long", province_code="01"))
        first = _person(session, "dup-1", "Lê Thị Hoa", "le thi hoa", facility="F-campaign", phone="0912000111")
        second = _person(session, "dup-2", "Lê Thị Hoa", "le thi hoa", phone="0912000222")
        _dose(session, first, date(2021, 8, 2), "1", "F-campaign")
        _dose(session, second, date(2021, 9, 6), "1", "F-home")
        namesake = _person(session, "namesake-1", "Phạm Văn Tâm", "pham van tam")
        namesake_2 = _person(session, "namesake-2", "Phạm Văn Tâm", "pham van tam")
        far_1 = _person(session, "far-1", "Võ Thị Mai", "vo thi mai", ward=OTHER_WARD)
        far_2 = _person(session, "far-2", "Võ Thị Mai", "vo thi mai", ward=OTHER_WARD)
        store_pairs(session, find_pairs(session))
        session.commit()
        world.ids["dup"] = {"first": first.id, "second": second.id, "namesake": namesake.id,
                            "namesake_2": namesake_2.id, "far": far_1.id, "far_2": far_2.id}  # fmt: skip
    return world


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_station_sees_its_communes_groups_and_not_another_provinces(world: World) -> None:
    station = world.client("health_station")
    page = station.get("/duplicates")
    assert page.status_code == 200
    assert "Lê Thị Hoa" in page.text and "Phạm Văn Tâm" in page.text and "Võ Thị Mai" not in page.text
    shown = re.sub(r"<[^>]+>", " ", page.text)  # what a person reads: words, not codes
    assert "same_name_birth_date" not in shown and "NO_ID_UNVERIFIABLE" not in shown
    assert "Không có số định danh chung" in shown
    other = world.client("health_station_other").get("/api/v1/duplicates").json()
    seen = [group["subject_ids"] for group in other["groups"]]
    assert [world.ids["dup"]["far"], world.ids["dup"]["far_2"]] in seen
    assert not {world.ids["dup"]["first"], world.ids["dup"]["namesake"]} & {i for ids in seen for i in ids}
    filtered = station.get("/api/v1/duplicates", params={"q": "le thi"}).json()
    assert [group["subject_ids"] for group in filtered["groups"]] == [
        [world.ids["dup"]["first"], world.ids["dup"]["second"]]
    ]
    assert station.get("/api/v1/duplicates", params={"kind": "requested"}).json()["total"] == 0


def test_the_comparison_marks_what_differs_in_words(world: World) -> None:
    ids = world.ids["dup"]
    page = world.client("health_station").get(f"/subjects/{ids['first']}/duplicates")
    assert page.status_code == 200
    assert "Điểm tiêm lưu động KCN Thăng Long" in page.text and "Cơ sở home" in page.text
    assert "04/03/1975" in page.text
    rows = world.client("health_station").get(f"/api/v1/subjects/{ids['first']}/duplicates").json()["fields"]
    differing = {row["label"] for row in rows if row["differs"]}
    assert differing == {"Cơ sở đăng ký hồ sơ"}
    # A province's account sees the ID numbers masked, like every page.
    assert world.client("province").get(f"/subjects/{ids['first']}/duplicates").status_code == 200
    # Another commune's station may not open them.
    assert world.client("health_station_other").get(f"/subjects/{ids['first']}/duplicates").status_code == 403


def test_merge_in_place_then_unmerge_from_the_persons_page(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    ids = world.ids["dup"]
    station = world.client("health_station")
    answer = station.post(f"/subjects/{ids['first']}/duplicates/merge",
                          data={"subject_ids": [ids["first"], ids["second"]]}, headers=HTMX)  # fmt: skip
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith('<article id="comparison"')  # the fragment alone, swapped in place
    assert "Đã gộp 2 hồ sơ thành một" in answer.text and "1 mũi tiêm đã chuyển" in answer.text
    with session_factory() as session:
        merge = session.scalars(select(SubjectMerge)).one()
        survivor = merge.survivor_id
        assert session.scalar(select(func.count()).select_from(Dose).where(Dose.subject_id == survivor)) == 2
        pair = session.scalars(select(DuplicatePair).where(DuplicatePair.first_id == ids["first"])).one()
        assert pair.state == PairState.MERGED.value and pair.decided_by == "health_station"
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "subject_merge")))
        assert actions == {"merge"}
    queue = station.get("/api/v1/duplicates").json()
    assert all(ids["first"] not in group["subject_ids"] for group in queue["groups"])

    person = station.get(f"/subjects/{survivor}")
    assert "Tách hai hồ sơ" in person.text
    split = station.post(f"/subjects/{survivor}/unmerge", data={"merge_id": merge.id, "note": "Hai chị em"},
                         headers=HTMX)  # fmt: skip
    assert split.status_code == 200 and split.text.lstrip().startswith('<section id="person-duplicates"')
    assert "Đã tách hai hồ sơ" in split.text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Dose).where(Dose.subject_id == survivor)) == 1
        pair = session.scalars(select(DuplicatePair).where(DuplicatePair.first_id == ids["first"])).one()
        assert pair.state == PairState.DISTINCT.value  # tách: two people, never proposed again
        store_pairs(session, find_pairs(session))
        session.commit()
    assert all(ids["first"] not in group["subject_ids"] for group in station.get("/api/v1/duplicates").json()["groups"])


def test_not_the_same_person_is_remembered_after_the_detection_runs_again(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    ids = world.ids["dup"]
    station = world.client("health_station")
    form = {"other_ids": [ids["namesake_2"]], "note": "Hai người khác nhau"}
    answer = station.post(f"/subjects/{ids['namesake']}/duplicates/distinct", data=form, headers=HTMX)
    assert answer.status_code == 200 and "không phải cùng một người" in answer.text
    province = world.client("province")
    assert province.post("/api/v1/duplicates/refresh").status_code == 200  # the detection finds the pair again
    groups = station.get("/api/v1/duplicates").json()["groups"]
    assert all(ids["namesake"] not in group["subject_ids"] for group in groups)
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "not_duplicate")).all()
        assert {event.subject_id for event in events} == {ids["namesake"], ids["namesake_2"]}


def test_a_citizens_request_goes_through_the_same_queue(world: World, session_factory: sessionmaker[Session]) -> None:
    station = world.client("health_station")
    with session_factory() as session:
        other = _person(session, "request-2", "Đỗ Minh Khoa", "do minh khoa", birth_date="1990", birth_year=1990)
        mine = _person(session, "request-1", "Đỗ Minh Khoa", "do minh khoa", birth_date="1990-01-09")
        session.commit()
        mine_id, other_id = mine.id, other.id
    found = station.get(f"/subjects/{mine_id}/duplicates/search", params={"q": "do minh khoa"}, headers=HTMX)
    assert f'name="other_id" value="{other_id}"' in found.text
    assert f'name="other_id" value="{mine_id}"' not in found.text
    answer = station.post(f"/subjects/{mine_id}/duplicates/request", data={"other_id": other_id}, headers=HTMX)
    assert answer.status_code == 200 and "Đã đưa hai hồ sơ vào danh sách chờ gộp" in answer.text
    requested = station.get("/api/v1/duplicates", params={"kind": "requested"}).json()["groups"]
    assert [group["subject_ids"] for group in requested] == [sorted((mine_id, other_id))]
    assert station.get("/api/v1/duplicates").json()["groups"][0]["requested"]  # citizens first
    merged = station.post(f"/api/v1/subjects/{mine_id}/duplicates/merge", json={"subject_ids": [other_id]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["merge_ids"]
    with session_factory() as session:
        pair = session.scalars(select(DuplicatePair).where(DuplicatePair.first_id == min(mine_id, other_id))).one()
        assert (pair.source, pair.state) == (PairSource.REQUESTED.value, PairState.MERGED.value)


def test_the_api_refuses_records_outside_the_group_or_the_area(world: World) -> None:
    ids = world.ids["dup"]
    station = world.client("health_station")
    body = {"subject_ids": [ids["namesake"]]}
    unrelated = station.post(f"/api/v1/subjects/{ids['first']}/duplicates/merge", json=body)
    assert unrelated.status_code == 409
    assert "không cùng một nhóm" in unrelated.json()["detail"]
    far = station.post(f"/api/v1/subjects/{ids['first']}/duplicates/request", json={"other_id": ids["far"]})
    assert far.status_code == 403
    assert world.client("facility").get("/duplicates").status_code == 403


def test_the_queue_pages_through_thousands_of_groups(world: World, session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        for number in range(1_200):
            name, folded = f"Người Số {number}", f"nguoi so {number}"
            _person(session, f"many-{number}-a", name, folded)
            _person(session, f"many-{number}-b", name, folded)
        # the exact rules' 1,200 pairs: the model would rightly find "Người Số 12" and "Người Số 13" (one letter apart,
        # same birth date and commune) alike, and this test is about paging, not detection
        store_pairs(session, find_pairs(session, probabilistic=False))
        session.commit()
    station = world.client("health_station")
    first = station.get("/api/v1/duplicates").json()
    assert first["total"] == 1_203 and first["pages"] == 61 and len(first["groups"]) == 20
    last = station.get("/duplicates", params={"page": 61}, headers=HTMX)
    assert last.status_code == 200 and "Trang 61/61" in last.text and "<html" not in last.text


def test_a_merge_in_the_api_reissues_the_series_and_an_unmerge_revokes_it(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The station's merge signs the survivor's certificates with the whole series (the server holds the central
    key); its unmerge revokes what the merge issued and lists it for the verifiers."""
    world = certificate_world(session_factory, tmp_path, monkeypatch)
    verified = world.ids["home"]["subject_id"]  # Janssen dose 1 on 01/03/2022, signed by its facility
    with session_factory() as session:
        subject = session.get(Subject, verified)
        assert subject is not None
        other = _person(session, "booster-record", subject.full_name, subject.name_folded,
                        birth_date=subject.birth_date, birth_year=subject.birth_year)  # fmt: skip
        session.add(Dose(record_id="B1", subject_id=other.id, vaccine="Pfizer", vaccination_date=date(2022, 9, 1),
                         dose_kind="1", facility_code="F-home"))  # fmt: skip
        session.flush()
        key = load_facility_key(KeyLayout(tmp_path / "keys"), "F-home", FACILITY_PASSPHRASE.encode())
        assert sign_facility_day(session, "F-home", date(2022, 9, 1), key).ok
        review.request_pair(session, verified, other.id, actor="health_station")
        session.commit()
        other_id = other.id
    assert world.client("ministry").post(f"/api/v1/subjects/{verified}/certificates").status_code == 200

    station = world.client("health_station")
    merged = station.post(f"/api/v1/subjects/{verified}/duplicates/merge", json={"subject_ids": [other_id]})
    assert merged.status_code == 200, merged.text
    answer = merged.json()
    assert answer["survivor_id"] == verified and answer["revoked_certificates"] == []
    # The Pfizer dose another facility typed "mũi 1" is the person's third (Janssen, a Janssen booster, then it): 3/3.
    assert len(answer["issued_certificates"]) == 1
    with session_factory() as session:
        issued = session.scalars(select(Certificate).where(Certificate.uvci == answer["issued_certificates"][0])).one()
        assert (issued.subject_id, issued.dose_number, issued.total_doses) == (verified, 3, 3)
        merge_id = answer["merge_ids"][0]

    split = station.post(f"/api/v1/subjects/{verified}/unmerge", json={"merge_id": merge_id, "note": "Nhầm"})
    assert split.status_code == 200, split.text
    assert split.json()["revoked_certificates"] == answer["issued_certificates"]
    hashes = world.client("ministry").get("/certificates/revocation-list.json").json()["hashes"]
    with session_factory() as session:
        revoked = session.scalars(select(Certificate).where(Certificate.uvci == answer["issued_certificates"][0])).one()
        assert revoked.revoked_at is not None and set(revoked.revocation_hashes().values()) <= set(hashes)
