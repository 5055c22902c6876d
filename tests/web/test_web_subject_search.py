"""The subject search's answers, on both databases, where its queries were reshaped for a million subjects
(benchmarks/bench_pages.py): a common name beyond the count cap in registration order, a commune's search that checks
names row by row instead of reading the full-text index, and a district's people of one verification result."""

from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import HOME_WARD, add_subject, add_user
from tiemchung.health.registry.models import Role, Subject, User
from tiemchung.health.web.subject_search import COUNT_CAP, PAGE_SIZE, SearchQuery, search

TRUC_BACH = ("01", "001", "00004")  # another commune of the home district
PHUC_TAN = ("01", "002", "00037")  # a commune of another district of the home province


def person(session: Session, key: str, folded: str, ward: tuple[str, str, str] = HOME_WARD, **fields: object) -> int:
    """A subject whose folded name is `folded` (the search reads only that form of the name)."""
    display = folded.title()
    return add_subject(
        session, key, ward=ward, full_name=display, full_name_raw=display, name_canonical=folded, name_folded=folded,
        **fields,
    ).id  # fmt: skip


def users(session: Session) -> dict[str, User]:
    return {
        "facility": add_user(session, "coso", Role.FACILITY, HOME_WARD[0]),
        "station": add_user(session, "tram", Role.HEALTH_STATION, HOME_WARD[2]),
    }


def names(session: Session, user: User, **query: object) -> list[str]:
    return [subject.name_folded for subject in search(session, user, SearchQuery(**query)).subjects]  # type: ignore[arg-type]


def test_a_name_beyond_the_count_cap_is_listed_in_registration_order_page_by_page(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        # Registered in an order that is not the name order, with others in between.
        given = [f"{chr(ord('a') + (index * 7) % 26)}{index:04d}" for index in range(COUNT_CAP + 10)]
        ids = []
        for index, word in enumerate(given):
            ids.append(person(session, f"S{index}", f"nguyen van {word}"))
            if index % 100 == 0:
                person(session, f"T{index}", f"tran thi {word}")
        user = users(session)["facility"]
        session.commit()

        first = search(session, user, SearchQuery(text="Nguyễn"))
        assert (first.total, first.capped, first.entry_order, first.pages) == (COUNT_CAP + 1, True, True, 20)
        assert [subject.id for subject in first.subjects] == ids[:PAGE_SIZE]
        last = search(session, user, SearchQuery(text="nguyen", page=99))  # beyond the last page: the last one
        assert last.page == 20
        assert [subject.id for subject in last.subjects] == ids[19 * PAGE_SIZE : 20 * PAGE_SIZE]
        # Narrowed under the cap, the same people come back in name order, counted exactly.
        narrowed = search(session, user, SearchQuery(text="nguyen van a"))
        expected = sorted(f"nguyen van {word}" for word in given if word.startswith("a"))
        assert not narrowed.entry_order and narrowed.total == len(expected)
        assert [subject.name_folded for subject in narrowed.subjects] == expected[:PAGE_SIZE]


def test_a_communes_search_finds_exactly_what_the_full_text_index_finds(
    session_factory: sessionmaker[Session],
) -> None:
    """A commune's search checks each name itself on SQLite (name_search._starts_a_word): a word must start a word of
    the name — after a space, a hyphen, an apostrophe, a dot — where the full-text index's tokens start, and not match
    inside one. (PostgreSQL's parser reads "tran.binh" as one token: each engine agrees with its own index.)"""
    folded = ["nguyen-thi hoa", "o'brien mary", "le van 2 an", "tran.binh", "nguyenthi lan", "pham thi hoa", "hoa"]
    with session_factory() as session:
        for index, name in enumerate(folded):
            person(session, f"H{index}", name)
            person(session, f"O{index}", name, ward=TRUC_BACH)
        user = users(session)
        session.commit()
        for typed in ("thi", "hoa", "brien", "o", "2", "binh", "nguyen", "guyen", "hoa thi", "an"):
            from_index = names(session, user["facility"], text=typed, ward_code=HOME_WARD[2])
            in_commune = names(session, user["station"], text=typed)
            assert in_commune == from_index, typed
        assert names(session, user["station"], text="thi") == ["nguyen-thi hoa", "pham thi hoa"]
        assert names(session, user["station"], text="guyen") == []
        assert names(session, user["station"], text="thi lan") == []  # "nguyenthi lan": "thi" starts no word
        # The facility's own search (the province) reads the full-text index: both communes.
        assert names(session, user["facility"], text="brien") == ["o'brien mary", "o'brien mary"]


def test_a_districts_people_of_one_verification_result_in_name_order_with_other_filters(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        for index, (name, ward, state, year) in enumerate([
            ("vu an", HOME_WARD, "MISMATCH", 1980),
            ("dang binh", TRUC_BACH, "MISMATCH", 1990),
            ("bui chi", HOME_WARD, "VERIFIED", 1980),
            ("ly dung", PHUC_TAN, "MISMATCH", 1980),
            ("ha em", TRUC_BACH, None, 1980),
            ("an giang", HOME_WARD, "MISMATCH", 1980),
        ]):  # fmt: skip
            person(session, f"D{index}", name, ward=ward, verification_category=state, birth_year=year)
        user = users(session)["facility"]
        session.commit()
        district = HOME_WARD[1]
        mismatched = search(session, user, SearchQuery(district_code=district, state="MISMATCH"))
        assert (mismatched.total, mismatched.capped, mismatched.entry_order) == (3, False, False)
        assert [subject.name_folded for subject in mismatched.subjects] == ["an giang", "dang binh", "vu an"]
        assert names(session, user, district_code=district, state="MISMATCH", birth_year="1980") == [
            "an giang",
            "vu an",
        ]
        assert names(session, user, district_code=district, state="MISMATCH", text="binh") == ["dang binh"]
        assert names(session, user, district_code=district, state="NOT_YET") == ["ha em"]
        assert names(session, user, ward_code=TRUC_BACH[2], state="MISMATCH") == ["dang binh"]
        assert names(session, user, district_code=PHUC_TAN[1], state="MISMATCH") == ["ly dung"]


def test_a_district_listing_beyond_the_cap_stays_in_name_order(session_factory: sessionmaker[Session]) -> None:
    """No name typed: the index gives the district's people of one result in name order, so beyond the cap the page
    is still in name order ("Hơn 1.000 người phù hợp" without "xếp theo thứ tự vào sổ")."""
    with session_factory() as session:
        session.add_all(
            Subject(
                subject_key=f"M{index}", full_name_raw="x", full_name="x", name_canonical="x",
                name_folded=f"ten {(index * 389) % 1013:04d}", province_code="01", district_code="001",
                ward_code="00001", verification_category="MISMATCH",
            )
            for index in range(COUNT_CAP + 5)
        )  # fmt: skip
        user = users(session)["facility"]
        session.commit()
        result = search(session, user, SearchQuery(district_code="001", state="MISMATCH", page=2))
        assert (result.total, result.capped, result.entry_order, result.page) == (COUNT_CAP + 1, True, False, 2)
        folded = [subject.name_folded for subject in result.subjects]
        expected = sorted(f"ten {(index * 389) % 1013:04d}" for index in range(COUNT_CAP + 5))
        assert folded == expected[PAGE_SIZE : 2 * PAGE_SIZE]
