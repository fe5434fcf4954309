"""The one home of engine-SQL portability: SQL the engine writes in DuckDB's dialect that means
the same on Spark, and the transpiler that turns it (and playbook expressions) into Spark SQL.

The engine's SQL is DuckDB SQL. Where DuckDB and Spark spell or compute a thing differently,
the engine uses the spelling below, whose meaning is defined here rather than by an engine:

- Sampling hash. DuckDB's hash() and Spark's hash() are different functions, so a sample
  ordered or filtered by them holds different rows on each engine. hash64 is defined: the
  first 15 hex digits of the md5 of the value's text, read as an integer (60 bits: it fits a
  signed BIGINT, and Spark has no unsigned one). Timestamps are hashed by their epoch
  microseconds, because the text of a timestamp differs between the engines.
- Finiteness. The engine keeps DuckDB's isfinite(), and transpile() writes it for Spark (which
  has none) as abs(x) < infinity: false for NaN (Spark orders NaN above every number) and the
  infinities, NULL for NULL. That comparison is not used on DuckDB itself: DuckDB folds it to
  true from a Parquet column's min/max statistics, which leave NaN out.

transpile() parses DuckDB SQL with SQLGlot, rewrites what SQLGlot does not translate by itself
(_spark_rewrites) and writes Spark SQL, raising TranspileError for anything it cannot write.
SQLGlot is imported there only: running on DuckDB needs none of it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

# Hex digits of the md5 kept by hash64: 60 bits, non-negative in a signed 64-bit integer.
HASH_HEX_DIGITS = 15


class TranspileError(ValueError):
    """SQL that SQLGlot cannot write in the target dialect; the message is SQLGlot's."""


def hash64(value: str) -> str:
    """SQL of the defined sampling hash of `value` (SQL): the same non-negative BIGINT on
    DuckDB and Spark. DuckDB reads '0x...' text cast to an integer as hexadecimal;
    transpile() turns that cast into Spark's conv(..., 16, 10)."""
    return f"CAST('0x' || substr(md5(CAST(({value}) AS VARCHAR)), 1, {HASH_HEX_DIGITS}) AS BIGINT)"


def time_hash(ts: str) -> str:
    """hash64 of a timestamp (SQL), through its epoch microseconds: the same integer, and so
    the same text, on both engines."""
    return hash64(f"epoch_us({ts})")


def transpile(sql: str) -> str:
    """`sql` (DuckDB SQL: the engine's, or a playbook expression) as Spark SQL.

    Raises TranspileError naming what SQLGlot could not parse or write, or a function SQLGlot
    does not know (its meaning on Spark is unverified): a construct with no counterpart
    is an error, never a silent change of meaning.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, SqlglotError

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        # Children before parents: a rewrite embeds subexpressions already rewritten.
        for node in reversed(list(tree.walk(bfs=False))):
            new = _spark_rewrites(node)
            if new is node:
                continue
            if node is tree:
                tree = new
            else:
                node.replace(new)
        unknown = sorted(
            {
                str(f.this).lower()
                for f in tree.find_all(exp.Anonymous)
                if str(f.this).lower() not in SPARK_FUNCTIONS
            }
        )
        if unknown:
            raise TranspileError(f"no known Spark counterpart of {', '.join(unknown)}()")
        return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise TranspileError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def _spark_rewrites(node: exp.Expr) -> exp.Expr:
    """One DuckDB construct SQLGlot leaves as it is (or writes as a function Spark lacks) in
    its Spark spelling, with DuckDB's meaning; its children are already rewritten."""
    from sqlglot import exp

    inside_filter = isinstance(node.parent, exp.Filter) and node.arg_key == "this"
    if isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.INTEGER_TYPES):
        return _integer_cast(node)
    if isinstance(node, exp.TimeToUnix):
        # epoch(ts): DuckDB's seconds keep the microseconds; Spark's unix_timestamp drops them.
        return exp.Div(
            this=exp.func("unix_micros", node.this),
            expression=exp.cast(exp.Literal.number(1000000), exp.DataType.Type.DOUBLE),
        )
    if isinstance(node, exp.DateBin):
        return _template(TIME_BUCKET, width=node.this, ts=node.expression)
    if isinstance(node, exp.WithinGroup) and isinstance(
        node.this, (exp.PercentileCont, exp.PercentileDisc)
    ):
        return _within_group(node)
    # quantile_cont(x, p) / quantile_disc(x, p) (the WITHIN GROUP form has no `expression`).
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        # DuckDB's quantile_cont interpolates linearly between the order statistics, as
        # Spark's exact percentile() does, for one fraction or a list of them.
        return exp.func("percentile", node.this, _spark_array(node.expression))
    if _collected(node) is not None and not inside_filter:
        return _from_collected(node, exp.func("collect_list", _collected(node)))
    if isinstance(node, exp.Filter) and _collected(node.this) is not None:
        # An aggregate rewritten into an expression over collect_list: the filter moves onto
        # collect_list, the one aggregate left.
        values = exp.func("collect_list", _collected(node.this))
        return _from_collected(node.this, exp.Filter(this=values, expression=node.expression))
    if _anonymous(node, "list_extract"):
        # 1-based on both engines, NULL past the end (Spark with ANSI mode off); Spark's
        # index is an INT.
        items, index = node.expressions
        return exp.func("element_at", items, exp.cast(index, exp.DataType.Type.INT))
    if isinstance(node, exp.Literal) and node.is_number and not node.is_int:
        # DuckDB reads 1.5 as a DECIMAL but computes with it as a DOUBLE (avg, division give
        # DOUBLE); Spark keeps DECIMAL arithmetic, rounded to its scale.
        return exp.cast(node.copy(), exp.DataType.Type.DOUBLE)
    if isinstance(node, exp.Window) and isinstance(node.parent, exp.Binary):
        # Spark's parser ends `f(x) OVER w` at the window's name: `OVER w - x` is an error.
        return exp.paren(node.copy())
    if _anonymous(node, "isfinite"):
        return _template(IS_FINITE, x=node.expressions[0])
    if _anonymous(node, "epoch_us"):
        return exp.func("unix_micros", *node.expressions)
    return node


# Spark SQL of the rewrites: each __name is replaced by a (rewritten) DuckDB operand.
# time_bucket(width, ts), for a width of days or less: DuckDB's buckets start at 2000-01-03
# 00:00 UTC (a Monday; 946857600 s after the epoch) and every width from there.
TIME_BUCKET = (
    "timestamp_micros(946857600000000 + floor((unix_micros(__ts) - 946857600000000) / "
    "unix_micros(timestamp_micros(0) + __width)) * unix_micros(timestamp_micros(0) + __width))"
)
# histogram(x): a map of each value to its count, NULL without values. The values are bound
# once (the outer transform) so that the aggregate stays outside every lambda.
HISTOGRAM = (
    "element_at(transform(array(__values), vs -> IF(size(vs) = 0, NULL, map_from_entries("
    "transform(array_distinct(vs), v -> struct(v, CAST(size(filter(vs, y -> y = v)) AS BIGINT)))"
    "))), 1)"
)
IS_FINITE = "(abs(__x) < CAST('Infinity' AS DOUBLE))"
# quantile_disc(x, p): the value at 1-based position max(1, ceil(n * p)) of the n sorted
# values s (DuckDB's definition, checked against it), NULL without values.
QUANTILE_DISC_ONE = "element_at(s, CAST(greatest(1, ceil(size(s) * __p)) AS INT))"

# Functions the rewrites write and Spark has with the meaning they are written for.
SPARK_FUNCTIONS = frozenset(
    {"conv", "unix_micros", "timestamp_micros", "percentile", "element_at", "collect_list"}
)


def _collected(node: exp.Expr) -> exp.Expr | None:
    """The values of an aggregate Spark computes over collect_list (quantile_disc(x, p),
    histogram(x)), else None."""
    from sqlglot import exp

    if isinstance(node, exp.PercentileDisc) and node.expression is not None:
        values: exp.Expr = node.this
        return values
    if _anonymous(node, "histogram"):
        values = node.expressions[0]
        return values
    return None


def _from_collected(node: exp.Expr, values: exp.Expr) -> exp.Expr:
    """quantile_disc or histogram (`node`) over `values`, the collect_list of its values."""
    from sqlglot import exp

    if isinstance(node, exp.PercentileDisc):
        return _quantile_disc(node, values)
    return _template(HISTOGRAM, values=values)


def _within_group(node: exp.WithinGroup) -> exp.Expr:
    """percentile_cont(p) / percentile_disc(p) WITHIN GROUP (ORDER BY x) as the exact
    quantile (SQLGlot would write Spark's approximate percentile_approx)."""
    from sqlglot import exp

    keys = node.expression.expressions if isinstance(node.expression, exp.Order) else []
    if len(keys) != 1 or keys[0].args.get("desc"):
        raise TranspileError("a percentile WITHIN GROUP needs one ascending ORDER BY key")
    x, fraction = keys[0].this, node.this.this
    if isinstance(node.this, exp.PercentileCont):
        return exp.func("percentile", x, fraction)
    return _quantile_disc(
        exp.PercentileDisc(this=x, expression=fraction), exp.func("collect_list", x)
    )


def _anonymous(node: exp.Expr | None, name: str) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Anonymous) and str(node.this).lower() == name


def _template(sql: str, **operands: exp.Expr) -> exp.Expr:
    """Spark SQL `sql` with each __name replaced by a copy of operands[name]."""
    import sqlglot
    from sqlglot import exp

    def put(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.name.startswith("__") and not node.table:
            return operands[node.name[2:]].copy()
        return node

    return sqlglot.parse_one(sql, read="spark").transform(put)


def _spark_array(fractions: exp.Expr) -> exp.Expr:
    """DuckDB's list literal [a, b] as Spark's array(a, b); a single fraction as it is."""
    from sqlglot import exp

    if isinstance(fractions, exp.Array):
        return exp.func("array", *fractions.expressions)
    return fractions


def _quantile_disc(node: exp.PercentileDisc, values: exp.Expr) -> exp.Expr:
    """quantile_disc(x, p) or (x, [p, ...]) over `values` (collect_list of x, filtered)."""
    from sqlglot import exp

    fractions = node.expression
    if isinstance(fractions, exp.Array):
        picks = {f"p{i}": _exact_fraction(f) for i, f in enumerate(fractions.expressions)}
        each = ", ".join(QUANTILE_DISC_ONE.replace("__p", f"__{name}") for name in picks)
        body = f"IF(size(s) = 0, NULL, array({each}))"
    else:
        picks = {"p": _exact_fraction(fractions)}
        body = QUANTILE_DISC_ONE
    sql = f"element_at(transform(array(array_sort(__values)), s -> {body}), 1)"
    return _template(sql, values=values, **picks)


def _exact_fraction(fraction: exp.Expr) -> exp.Expr:
    """A quantile_disc fraction written as a decimal literal, as an exact DECIMAL.

    DuckDB computes the position ceil(n * p) of a DECIMAL fraction exactly: for n = 2400 and
    p = 0.0175 it is 42, where the DOUBLE 0.0175 (0.017500000000000002) gives 43. Every
    other non-integer literal becomes a DOUBLE on Spark (above); this one stays a DECIMAL of
    its own scale, written from the literal's text so that no rule sees a number to cast.
    """
    from sqlglot import exp

    literal = fraction.this if isinstance(fraction, exp.Cast) else fraction
    if not (isinstance(literal, exp.Literal) and literal.is_number and not literal.is_int):
        return fraction  # a parameter or an expression: a DOUBLE on both engines
    text = literal.this
    if not re.fullmatch(r"\d*\.\d+", text):
        return fraction  # an exponent (1e-3) is a DOUBLE in DuckDB too
    scale = len(text.split(".")[1])
    return exp.cast(exp.Literal.string(text), exp.DataType.build(f"DECIMAL(38, {scale})"))


def _integer_cast(node: exp.Cast) -> exp.Expr:
    """CAST(... AS <integer>) with DuckDB's meaning on Spark."""
    from sqlglot import exp

    inner = node.this
    # CAST('0x' || digits AS <integer>): DuckDB reads the text as hexadecimal (hash64);
    # Spark's cast would give NULL, its conv() reads hexadecimal.
    if (
        isinstance(inner, exp.DPipe)
        and isinstance(inner.this, exp.Literal)
        and inner.this.is_string
        and inner.this.this.lower() == "0x"
    ):
        digits = exp.func("conv", inner.expression, exp.Literal.number(16), exp.Literal.number(10))
        return exp.Cast(this=digits, to=node.to.copy())
    # DuckDB rounds a fraction to the nearest integer (half away from zero) where Spark
    # truncates: arithmetic, which may hold a fraction, is rounded first (round() is HALF_UP).
    if isinstance(inner, (exp.Add, exp.Sub, exp.Mul, exp.Div)):
        return exp.Cast(this=exp.func("round", inner), to=node.to.copy())
    return node
