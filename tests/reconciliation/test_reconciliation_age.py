"""The SQL age group (integer YYYYMMDD keys) agrees with `reference.age_group` for any birth and dose day."""

from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tiemchung.health.reconciliation.queries import UNDER_FIVE, UNKNOWN, age_group_of, birth_key, dose_key
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Dose, Subject
from tiemchung.identity.dates import PartialDate
from tiemchung.reference import age_group

births = st.one_of(
    st.dates(min_value=date(1920, 1, 1), max_value=date(2023, 12, 31)),
    st.integers(min_value=1920, max_value=2023),  # a year-only birth date
)
doses = st.dates(min_value=date(2021, 1, 1), max_value=date(2023, 12, 31))


def _expected(birth: date | int, day: date) -> str:
    born = birth if isinstance(birth, date) else PartialDate(birth)
    born_on = birth if isinstance(birth, date) else date(birth, 1, 1)
    if day < born_on:
        return UNKNOWN
    group = age_group(born, day)
    return group.value if group is not None else UNDER_FIVE


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(births, doses), min_size=1, max_size=30))
def test_sql_age_group_matches_reference(tmp_path_factory: object, pairs: list[tuple[date | int, date]]) -> None:
    folder: Path = tmp_path_factory.mktemp("age")  # type: ignore[attr-defined]
    engine = make_engine(f"sqlite:///{folder / 'age.sqlite'}")
    create_schema(engine)
    with make_session_factory(engine)() as session, session.begin():
        for index, (birth, day) in enumerate(pairs):
            text = birth.isoformat() if isinstance(birth, date) else str(birth)
            subject = Subject(subject_key=f"s{index}", full_name_raw="A", full_name="A", name_canonical="a",
                              name_folded="a", birth_date=text)  # fmt: skip
            session.add(Dose(record_id=f"d{index}", subject=subject, vaccine="Pfizer", dose_kind="1",
                             vaccination_date=day, facility_code="F"))  # fmt: skip
    statement = (
        select(Dose.record_id, age_group_of(dose_key() - birth_key()))
        .select_from(Dose.__table__.join(Subject.__table__, Subject.id == Dose.subject_id))
        .order_by(Dose.id)
    )
    with engine.connect() as connection:
        got = [group for _, group in connection.execute(statement)]
    engine.dispose()
    assert got == [_expected(birth, day) for birth, day in pairs]
