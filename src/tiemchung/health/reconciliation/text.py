"""Number and text formatting shared by the renderers (Vietnamese conventions)."""


def fmt(number: int | None) -> str:
    """`1234567` as `1.234.567`, the way the ministry's reports write numbers; empty for None."""
    if number is None:
        return ""
    return f"{number:,}".replace(",", ".")


def day(value: object) -> str:
    """A day as Vietnamese offices write it, `01/05/2021`, from a date or ISO text; a bare year stays as it is."""
    text = str(value or "")[:10]
    return f"{text[8:10]}/{text[5:7]}/{text[:4]}" if len(text) == 10 and text[4] == "-" else text
