"""The demo's accounts: a commune without a health station of its own still gets a facility account, attached to
the facility that vaccinated its people, never one without a facility (issue 16 item 1)."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import add_subject
from tiemchung.demo.pipeline import DemoState, create_accounts
from tiemchung.health.registry.models import Dose, Facility, Role, User


def test_a_commune_without_a_station_gets_the_district_centre(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        # A district centre serving commune 00001 (it has no station of its own), and another facility elsewhere.
        session.add(
            Facility(code="TTYT-001", name="Trung tâm Y tế Quận Ba Đình", province_code="01", district_code="001")
        )
        session.add(Facility(code="TYT-79", name="Trạm Y tế khác", province_code="79", ward_code="26734"))
        subject = add_subject(session, "S-1")
        session.add(Dose(record_id="R-1", subject_id=subject.id, vaccine="Pfizer", vaccination_date=date(2021, 9, 1),
                         dose_kind="1", facility_code="TTYT-001"))  # fmt: skip
        session.commit()
    state = DemoState(ward_code="00001")
    create_accounts(session_factory, state, "mat-khau-demo-dai")
    assert Role.FACILITY.value in {role for _name, _password, role in state.accounts}
    with session_factory() as session:
        account = session.scalars(select(User).where(User.role == Role.FACILITY.value)).one()
        assert (account.facility_code, account.area_code) == ("TTYT-001", "01")
        assert (
            session.scalar(select(User).where(User.role == Role.FACILITY.value, User.facility_code.is_(None))) is None
        )
