"""Navigation entries: each route module may declare `NAV_ITEMS`; the app collects them and each user sees the
entries of their role (so a new page appears in the menu without editing the layout)."""

from dataclasses import dataclass

from tiemchung.health.registry.models import Role


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    roles: frozenset[Role]
    order: int = 100
