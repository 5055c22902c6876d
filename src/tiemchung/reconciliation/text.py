"""Number and text formatting shared by the renderers (Vietnamese conventions)."""


def fmt(number: int | None) -> str:
    """`1234567` as `1.234.567`, the way the ministry's reports write numbers; empty for None."""
    if number is None:
        return ""
    return f"{number:,}".replace(",", ".")
