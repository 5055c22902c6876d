"""The model's pair scoring in Python, for the online path: the twin of Splink's SQL scoring.

Why by hand: online, one subject meets a few hundred candidates, and DuckDB spends ~4 ms binding and
optimising the 4.5 kB weight expression for them, every time (its Python API cannot keep a plan), against
~0.6 ms running it. Splink scores only in SQL. So the trained model's own level conditions, Splink's DuckDB
SQL, are parsed once with sqlglot and compiled into Python closures with SQL's NULL logic; string
similarities come from rapidfuzz (DuckDB's jaro_winkler_similarity is a port of the same code). Each
condition gives DuckDB's own answer, and the weights equal Splink's batch weights within 1e-9
(tests/linkage/test_linkage_scoring.py), so a subject's answer does not depend on the channel.
"""

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlglot
from rapidfuzz.distance import JaroWinkler, Levenshtein
from sqlglot import expressions as exp

from tiemchung.register.linkage.model import is_else_level, level_weight, prior_weight

Row = Mapping[str, Any]
# A condition over one pair: True, False, or None for SQL's NULL (which a CASE treats as not true).
Condition = Callable[[Row, Row], Any]
Value = Callable[[Row, Row], Any]


class UnsupportedCondition(ValueError):
    """A level condition uses SQL this compiler does not know; the online path cannot twin the model."""


class PairScorer:
    """Match weight (log2 Bayes factor, prior included) of a subject against register candidates."""

    def __init__(self, model: Mapping[str, Any]) -> None:
        self._prior = prior_weight(dict(model))
        self._comparisons = [
            _compile_comparison(comparison["comparison_levels"]) for comparison in model["comparisons"]
        ]

    def weight(self, left: Row, right: Row) -> float:
        # Summed in the comparisons' order from the prior, as the SQL's `prior + case + case ...` is.
        total = self._prior
        for levels, otherwise in self._comparisons:
            total += next((weight for condition, weight in levels if condition(left, right)), otherwise)
        return total

    def best_two(self, left: Row, candidates: Sequence[tuple[str, Row]]) -> list[tuple[str, float]]:
        """The two highest-weighted candidates, as `ORDER BY match_weight DESC, person_id LIMIT 2`."""
        scored = [(person_id, self.weight(left, right)) for person_id, right in candidates]
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        return scored[:2]


def _compile_comparison(levels: list[dict[str, Any]]) -> tuple[list[tuple[Condition, float]], float]:
    """(condition, weight) per level in Splink's order, and the ELSE level's weight."""
    compiled, otherwise = [], 0.0
    for level in levels:
        if is_else_level(level):
            otherwise = level_weight(level)
        else:
            compiled.append((compile_condition(level["sql_condition"]), level_weight(level)))
    return compiled, otherwise


def compile_condition(sql: str) -> Condition:
    """A Python function of (left row, right row) for one of Splink's DuckDB level conditions."""
    return _compile(sqlglot.parse_one(sql, read="duckdb"))


def _compile(node: exp.Expr) -> Value:
    if isinstance(node, exp.Paren):
        return _compile(node.this)
    for kinds, build in _BUILDERS:
        if isinstance(node, kinds):
            return build(node)
    raise UnsupportedCondition(f"no Python twin for {node.sql(dialect='duckdb')!r}")


def _column(node: exp.Column) -> Value:
    """`"name_fold_l"` reads the left row's name_fold, `"name_fold_r"` the right row's."""
    name = node.name
    column, side = name[:-2], name[-2:]
    if side == "_l":
        return lambda left, right: left[column]
    if side == "_r":
        return lambda left, right: right[column]
    raise UnsupportedCondition(f"column {name!r} is not suffixed _l or _r")


def _literal(node: exp.Literal) -> Value:
    value: Any = node.this if node.is_string else _number(node.this)
    return lambda left, right: value


def _number(text: str) -> int | float:
    return float(text) if any(mark in text for mark in ".eE") else int(text)


def _is_null(node: exp.Is) -> Value:
    if not isinstance(node.expression, exp.Null):
        raise UnsupportedCondition(f"IS other than IS NULL: {node.sql()!r}")
    operand = _compile(node.this)
    return lambda left, right: operand(left, right) is None


def _comparison(compare: Callable[[Any, Any], bool]) -> Callable[[exp.Binary], Value]:
    def build(node: exp.Binary) -> Value:
        first, second = _compile(node.this), _compile(node.expression)

        def evaluate(left: Row, right: Row) -> bool | None:
            a, b = first(left, right), second(left, right)
            return None if a is None or b is None else compare(a, b)

        return evaluate

    return build


def _and(node: exp.And) -> Value:
    """Kleene AND: false wins over NULL."""
    first, second = _compile(node.this), _compile(node.expression)

    def evaluate(left: Row, right: Row) -> bool | None:
        a = first(left, right)
        if a is False:
            return False
        b = second(left, right)
        if b is False:
            return False
        return None if a is None or b is None else True

    return evaluate


def _or(node: exp.Or) -> Value:
    """Kleene OR: true wins over NULL."""
    first, second = _compile(node.this), _compile(node.expression)

    def evaluate(left: Row, right: Row) -> bool | None:
        a = first(left, right)
        if a is True:
            return True
        b = second(left, right)
        if b is True:
            return True
        return None if a is None or b is None else False

    return evaluate


def _not(node: exp.Not) -> Value:
    operand = _compile(node.this)

    def evaluate(left: Row, right: Row) -> bool | None:
        value = operand(left, right)
        return None if value is None else not value

    return evaluate


def _function(apply: Callable[..., Any], *argument_keys: str) -> Callable[[exp.Expression], Value]:
    """A scalar function of DuckDB: NULL in any argument gives NULL, as DuckDB's do."""

    def build(node: exp.Expression) -> Value:
        arguments = [_compile(node.args[key]) for key in argument_keys if node.args.get(key) is not None]

        def evaluate(left: Row, right: Row) -> Any:
            values = [argument(left, right) for argument in arguments]
            return None if any(value is None for value in values) else apply(*values)

        return evaluate

    return build


def _substring(text: str, start: int, length: int | None = None) -> str:
    """DuckDB's substr for the positive, 1-based starts Splink's levels use."""
    if start < 1:
        raise UnsupportedCondition("substr with a start below 1")
    begin = start - 1
    return text[begin:] if length is None else text[begin : begin + length]


_BUILDERS: list[tuple[type[exp.Expression] | tuple[type[exp.Expression], ...], Callable[[Any], Value]]] = [
    (exp.Column, _column),
    (exp.Literal, _literal),
    (exp.Is, _is_null),
    (exp.EQ, _comparison(operator.eq)),
    (exp.NEQ, _comparison(operator.ne)),
    (exp.GTE, _comparison(operator.ge)),
    (exp.GT, _comparison(operator.gt)),
    (exp.LTE, _comparison(operator.le)),
    (exp.LT, _comparison(operator.lt)),
    (exp.And, _and),
    (exp.Or, _or),
    (exp.Not, _not),
    (exp.Sub, _function(operator.sub, "this", "expression")),
    (exp.Abs, _function(abs, "this")),
    (exp.Length, _function(len, "this")),
    (exp.Substring, _function(_substring, "this", "start", "length")),
    (exp.Levenshtein, _function(Levenshtein.distance, "this", "expression")),
    (exp.JarowinklerSimilarity, _function(JaroWinkler.similarity, "this", "expression")),
]
