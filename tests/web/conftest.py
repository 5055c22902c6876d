from collections.abc import Iterator

import pytest

from tests.support.scale_world import ScaleWorld, build_scale_world, serve

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(chromium_path: str) -> Iterator[object]:
    """A page of Debian's chromium (never a downloaded browser), driven by Playwright."""
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="vi-VN")
        yield page
        browser.close()


@pytest.fixture(scope="session")
def scale_world(tmp_path_factory: pytest.TempPathFactory) -> ScaleWorld:
    """The district of ~110,000 people with a 2,000-line commune worklist (tests/support/scale_world.py), built once."""
    return build_scale_world(tmp_path_factory.mktemp("scale-world"))


@pytest.fixture(scope="session")
def scale_url(scale_world: ScaleWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The web platform over the scale world, served on a free local port for the browser tests."""
    with serve(scale_world, tmp_path_factory.mktemp("scale-keys")) as url:
        yield url
