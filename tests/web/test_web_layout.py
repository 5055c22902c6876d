"""The web layer's own conventions, checked on its source (issue 19, item 3): one session dependency alias."""

import re
from pathlib import Path

import tiemchung.health.web as web_package

WEB = Path(web_package.__file__).parent


def test_the_database_session_is_injected_through_one_alias() -> None:
    """`Depends(get_session)` is spelled once, as `SessionDep` in deps.py; every handler uses that alias."""
    spelled = {
        str(path.relative_to(WEB)): len(re.findall(r"Depends\(get_session\)", path.read_text("utf-8")))
        for path in WEB.rglob("*.py")
    }
    assert {path: count for path, count in spelled.items() if count} == {"deps.py": 1}
