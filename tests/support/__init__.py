"""Helpers shared by the tests, imported as `tests.support.<module>`; no test module imports another.

Fixtures stay in the `conftest.py` of their folder; what several folders need (worlds, factories, file writers,
servers) lives here.
"""
