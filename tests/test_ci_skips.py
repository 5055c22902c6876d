"""On CI a skip fails the run unless its reason is allowed; off CI, skips stay skips (tests/support/ci_skips.py)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import pytest

def test_skipped_for_a_missing_file():
    pytest.skip("the vectors are not beside the project")

def test_skipped_for_an_allowed_reason():
    pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")

@pytest.mark.xfail(reason="a known wrong vector", strict=False)
def test_expected_to_fail():
    assert False

def test_passes():
    pass
"""
COLLECTION_PROBE = 'import pytest\npytest.importorskip("a_module_that_is_not_installed")\n\ndef test_x():\n    pass\n'


def _run(folder: Path, ci: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CI": ci, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", "-p", "tests.support.ci_skips", "-q", "-rA", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, "--rootdir", str(folder), str(folder)], cwd=folder, env=environment, capture_output=True, text=True
    )


def test_on_ci_a_skip_fails_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    result = _run(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "FAILED test_probe.py::test_skipped_for_a_missing_file" in result.stdout
    assert "skipped on CI" in result.stdout and "the vectors are not beside the project" in result.stdout
    assert "SKIPPED [1] test_probe.py" in result.stdout  # the allowed one
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in result.stdout


def test_on_ci_a_module_skipped_at_collection_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "test_collection_probe.py").write_text(COLLECTION_PROBE, encoding="utf-8")
    result = _run(tmp_path, "true")
    assert result.returncode == 2, result.stdout
    assert "ERROR test_collection_probe.py - skipped on CI" in result.stdout


def test_off_ci_skips_stay_skips(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    result = _run(tmp_path, "")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in result.stdout
