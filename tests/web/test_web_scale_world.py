"""The scale world itself: a district of tens of thousands of people and a commune worklist of 2,000+ lines."""

import pytest
from sqlalchemy import func, select

from tests.support.browser import log_in
from tests.support.scale_world import ScaleWorld
from tiemchung.health.cleaning.models import CleaningLine
from tiemchung.health.registry.models import Subject

pytestmark = [pytest.mark.slow]


def test_the_district_and_the_commune_are_at_real_scale(scale_world: ScaleWorld) -> None:
    assert scale_world.district_subjects >= 50_000
    assert scale_world.worklist_lines >= 2_000
    with scale_world.session_factory() as session:
        lines = session.scalar(
            select(func.count()).select_from(CleaningLine).where(CleaningLine.worklist_id == scale_world.worklist_id)
        )
        unanswered = session.scalar(select(func.count()).where(Subject.verification_category.is_(None)))
    assert lines == scale_world.worklist_lines
    assert unanswered == 0
    assert set(scale_world.usernames) >= {"station", "village", "police", "facility", "district", "province"}


@pytest.mark.browser
def test_the_station_opens_its_worklist_at_scale(scale_world: ScaleWorld, scale_url: str, browser_page: object) -> None:
    page = browser_page
    log_in(page, scale_url, scale_world.usernames["station"], scale_world.password)
    page.goto(f"{scale_url}/cleaning/worklists/{scale_world.worklist_id}")  # type: ignore[attr-defined]
    assert "Danh sách làm sạch quy mô thực" in page.locator("body").inner_text()  # type: ignore[attr-defined]
