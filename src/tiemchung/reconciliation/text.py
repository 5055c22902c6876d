"""Number and text formatting shared by the renderers (Vietnamese conventions)."""


def fmt(number: int | None) -> str:
    """`1234567` as `1.234.567`, the way the ministry's reports write numbers; empty for None."""
    if number is None:
        return ""
    return f"{number:,}".replace(",", ".")


def percent(part: int, whole: int) -> str:
    """`part / whole` as a percentage with one decimal and a comma (`12,5%`); empty when `whole` is 0."""
    if whole == 0:
        return ""
    return f"{100 * part / whole:.1f}%".replace(".", ",")
