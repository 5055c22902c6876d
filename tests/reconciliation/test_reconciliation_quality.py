"""Data-quality checks: drop-out, outliers, doses before birth or too soon, duplicate doses."""

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.reconciliation_world import AS_OF, RegistryIds
from tiemchung.health.reconciliation.appendix1 import assemble_appendix1, build_appendix1
from tiemchung.health.reconciliation.layout import CELL_KEYS
from tiemchung.health.reconciliation.quality import (
    DUPLICATE_REVIEW,
    dose_problems,
    drop_outs,
    modified_z_scores,
    province_outliers,
    resolve_duplicates,
    same_day_duplicates,
)
from tiemchung.health.reconciliation.reported import ReportedFigures
from tiemchung.health.reconciliation.sources import RegistrySource
from tiemchung.health.registry.models import AuditEvent, Dose, Finding


def test_doses_before_birth_and_too_soon_are_listed(engine: Engine, registry: RegistryIds) -> None:
    problems = dose_problems(RegistrySource(engine))
    by_dose = {problem.dose_id: problem.message for problem in problems}
    assert "trước ngày sinh 01/01/2025" in by_dose[registry.doses["s5d1"]]
    assert "9 ngày" in by_dose[registry.doses["s2d2"]]
    assert registry.doses["s1d2"] not in by_dose  # 31 days after dose 1: on schedule
    assert len(problems) == 2


def test_simple_duplicate_is_resolved_and_the_other_pair_listed(
    engine: Engine, session_factory: sessionmaker[Session], registry: RegistryIds
) -> None:
    source = RegistrySource(engine)
    pairs = same_day_duplicates(source)
    assert {(p.first_id, p.second_id) for p in pairs} == {
        (registry.doses["s6d1"], registry.doses["s6d1x"]),
        (registry.doses["s7ad"], registry.doses["s7b1"]),  # Pfizer and Comirnaty: one family
    }
    with session_factory() as session, session.begin():
        outcome = resolve_duplicates(session, pairs, actor="tester")
    assert (outcome.resolved, outcome.listed_for_review) == (1, 1)
    with session_factory() as session:
        duplicate = session.get(Dose, registry.doses["s6d1x"])
        assert duplicate is not None and duplicate.duplicate_of_id == registry.doses["s6d1"]
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "mark_duplicate")).all()
        assert [(e.entity_id, e.actor) for e in events] == [(str(registry.doses["s6d1x"]), "tester")]
        finding = session.scalars(select(Finding).where(Finding.code == DUPLICATE_REVIEW)).one()
        assert finding.dose_id == registry.doses["s7b1"]
    # A second run finds only the pair under review, and does not list it twice.
    remaining = same_day_duplicates(source)
    assert len(remaining) == 1
    with session_factory() as session, session.begin():
        assert resolve_duplicates(session, remaining, actor="tester").listed_for_review == 0
    report = build_appendix1(source, ReportedFigures(), as_of=AS_OF)
    assert report.total().entered == 11  # the duplicate is no longer counted


def test_drop_out_per_age_group_flags_negative(engine: Engine, registry: RegistryIds) -> None:
    report = build_appendix1(RegistrySource(engine), ReportedFigures(), as_of=AS_OF)
    hanoi = [d for d in drop_outs(report) if d.province_code == "01"]
    adult_primary = next(d for d in hanoi if d.age_group == "18+" and d.step == "Mũi 1 → Mũi 2")
    assert (adult_primary.first, adult_primary.second, adult_primary.rate) == (2, 1, 0.5)
    adult_booster = next(d for d in hanoi if d.age_group == "18+" and d.step == "Mũi 2 → Liều nhắc 1")
    assert adult_booster.rate == 0.0 and not adult_booster.negative
    reported = ReportedFigures()
    reported.cells["01"] = {("18+", "1"): 100, ("18+", "2"): 120}
    negative = drop_outs(assemble_appendix1(reported, {}), entered=False)
    assert [d.negative for d in negative if d.province_code == "01"] == [True, False]


def test_modified_z_score_finds_the_outlying_province() -> None:
    assert modified_z_scores([1.0, 1.0, 1.0]) == [0.0, 0.0, 0.0]
    scores = modified_z_scores([10, 11, 9, 10, 12, 10, 50])
    assert scores[-1] > 3.5 and all(abs(z) < 3.5 for z in scores[:-1])
    reported = ReportedFigures()
    entered: dict[str, dict[tuple[str, str], int]] = {}
    for index, code in enumerate(("01", "02", "04", "06", "08", "10", "11")):
        reported.cells[code] = {CELL_KEYS[0]: 1000}
        entered[code] = {CELL_KEYS[0]: 990 - index}  # gaps of 1.0 % … 1.6 %
    entered["11"] = {CELL_KEYS[0]: 500}  # Điện Biên: half its doses missing
    outliers = province_outliers(assemble_appendix1(reported, entered))
    assert [o.where for o in outliers] == ["Điện Biên"]
