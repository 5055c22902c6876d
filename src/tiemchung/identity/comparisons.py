"""How two typed identities compare, as Splink comparisons, for both sides' probabilistic models: the register's
linkage (`tiemchung.register.linkage.model`) and the health side's de-duplication (`tiemchung.health.duplicates`).

The levels encode the ways a health worker mistypes a birth date (only the year, day and month swapped, the year one
off), which are facts of the typing, not of either model: one definition keeps the two models' levels identical.
Splink is imported inside the functions, as by the models: importing it takes seconds, and `tiemchung.identity`
is imported by every command.
"""

from typing import Any


def birth_date_comparison() -> Any:
    """`birth_date` (ISO text, "yyyy" when only the year was typed) and `birth_year`, from exact to far apart."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.CustomLevel(
                '(length("birth_date_l") = 4 OR length("birth_date_r") = 4) AND "birth_year_l" = "birth_year_r"',
                label_for_charts="year only, same year",
            ),
            cll.CustomLevel(
                'substr("birth_date_l", 1, 4) = substr("birth_date_r", 1, 4) '
                'AND substr("birth_date_l", 6, 2) = substr("birth_date_r", 9, 2) '
                'AND substr("birth_date_l", 9, 2) = substr("birth_date_r", 6, 2)',
                label_for_charts="day and month swapped",
            ),
            cll.CustomLevel(
                'length("birth_date_l") = 10 AND length("birth_date_r") = 10 '
                'AND substr("birth_date_l", 6, 5) = substr("birth_date_r", 6, 5) '
                'AND abs("birth_year_l" - "birth_year_r") = 1',
                label_for_charts="year one off, same day and month",
            ),
            cll.LevenshteinLevel("birth_date", 1),
            cll.ExactMatchLevel("birth_year").configure(label_for_charts="same year"),
            # Typing slips stay within a few years; a namesake born decades apart (a father and his son) is
            # another person.
            cll.CustomLevel('abs("birth_year_l" - "birth_year_r") <= 3', label_for_charts="at most 3 years apart"),
            cll.ElseLevel(),
        ],
    )


def residence_comparison() -> Any:
    """Same ward, same district, same province, elsewhere: residence is evidence (people move), never a gate."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="residence",
        comparison_levels=[
            cll.NullLevel("ward_code"),
            cll.ExactMatchLevel("ward_code"),
            cll.ExactMatchLevel("district_code"),
            cll.ExactMatchLevel("province_code"),
            cll.ElseLevel(),
        ],
    )
