"""`playbook init`: a first playbook drafted from the telemetry, for a person to finish.

What the data can tell, and how each guess is checked on the data rather than trusted:

- nodes from the decisions columns by the telemetry contract's naming (docs/telemetry.md):
  raw_* are sources, feat_* features, `score` the model, `decision` the decision; the type
  from the column's DuckDB type (numbers are numeric, the rest categorical);
- source -> feature edges by name similarity (the names without their prefix, difflib) and
  value agreement: each feature is recomputed from a candidate source with the usual
  transforms (REFERENCE_FORMS) and a form that reproduces at least MATCH_SHARE of the rows is
  kept as the feature's `reference` (reported as found); a numeric pair with no exact form is
  still linked when the values correlate (|r| >= MIN_CORRELATION);
- metric nodes from the metric series: each series is recomputed per bucket with the
  aggregates the decisions allow (rate of each decision value, mean score, error rate, p99
  latency) and the closest one becomes the node's expr;
- the scorer: a logistic (scores in (0, 1)) or linear model fitted by least squares of the
  score's logit on the numeric features, threshold and labels from the decisions;
- sensitive-looking columns (SENSITIVE_HINTS) listed in [privacy];
- planned interventions by type: shadow_recompute where a reference was found, else
  distribution_shift on the source; model_version on feature -> model edges.

Every edge is `tentative` with a placeholder mechanism: the draft says what the data shows,
a person says why.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from console.errors import ConsoleError
from console.playbook.intervention_types import DEFAULT_PLANS
from console.playbook.model import TelemetryTables
from console.playbook.sklearn_import import read_sklearn_json
from console.playbook.templates import TEMPLATES, Template
from console.telemetry.store import TelemetryStore, duckdb_identifier, duckdb_string, open_store

# What the draft cannot know marks each value a person writes in (grep for it after `init`).
FILL_IN = "to fill in"

NUMERIC_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT",
                 "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT")  # fmt: skip
# Transforms a feature service commonly applies to one raw column ({x}: the column).
REFERENCE_FORMS = {
    "numeric": (
        "{x}", "ln(1 + {x})", "{x} / 100.0", "least({x}, 20)", "log10(1 + {x})", "sqrt({x})",
    ),
    "categorical": ("{x}", "lower({x})", "upper({x})", "trim({x})"),
}  # fmt: skip
PAIR_FORMS = (
    "CASE WHEN {a} = {b} THEN 0.0 ELSE 1.0 END",
    "CASE WHEN {a} = {b} THEN 1.0 ELSE 0.0 END",
    "CASE WHEN lower({a}) = {b} THEN 1.0 ELSE 0.0 END",
    "CASE WHEN lower({a}) = {b} THEN 0.0 ELSE 1.0 END",
)
# A ratio of two numeric inputs (rates, debt-to-income); tried on pairs whose ratio already
# correlates with the feature at RATIO_CORRELATION on the sample.
RATIO_FORMS = ("{a} / greatest({b}, 1)", "{a} * 12 / greatest({b}, 1)", "{a} / {b}")
RATIO_CORRELATION = 0.95
MATCH_SHARE = 0.99  # of rows with both values, reproduced within TOLERANCE
TOLERANCE = 1e-6
MIN_CORRELATION = 0.5
MIN_NAME_SIMILARITY = 0.5  # difflib ratio of the names without prefix, for a linked pair
# Rows read for the checks: the table's first rows in storage order (DuckDB keeps insertion
# order), usually its oldest, before any incident; no sort of the whole table per check.
SAMPLE = 10000
# Column name words that usually mean personal data (and a name ending in _ip).
SENSITIVE_HINTS = ("token", "email", "phone", "name", "address", "country", "ssn", "dob")


@dataclass
class Draft:
    toml: str
    references: dict[str, str] = field(default_factory=dict)  # feature node -> reference
    edges: list[tuple[str, str]] = field(default_factory=list)  # source -> feature
    notes: list[str] = field(default_factory=list)


def draft_playbook(
    telemetry: Path,
    model_name: str,
    sklearn: Path | None = None,
    template: Template = TEMPLATES["classification"],
) -> Draft:
    """The draft; sklearn: a JSON export of a linear or logistic model whose coefficients
    become the scorer (console/playbook/sklearn_import.py) instead of the fitted one."""
    tables = TelemetryTables()
    store = open_store(telemetry, tables)
    try:
        return _draft(store, model_name, sklearn, template)
    finally:
        store.close()


def _draft(
    store: TelemetryStore, model_name: str, sklearn: Path | None, template: Template
) -> Draft:
    columns = dict(store.columns("decisions"))
    if "score" not in columns or "decision" not in columns:
        raise ConsoleError(f"{store.label('decisions')}: no score or decision column")
    kinds = {c: "numeric" if _numeric(t) else "categorical" for c, t in columns.items()}
    sources = [c for c in columns if c.startswith("raw_")]
    features = [c for c in columns if c.startswith("feat_")]
    sample = _sample(store, [*sources, *features, "score", "decision"])
    draft = Draft("")
    links: dict[str, list[str]] = {}
    for feat in features:
        linked = _link(store, feat, sources, kinds, sample, draft)
        links[feat] = linked
        draft.edges += [(s, _node(feat)) for s in linked]
    metrics = _metrics(store, columns)
    scorer = _scorer(sample, features, kinds, template.scorer)
    if sklearn is not None:
        scorer = _imported(sklearn, scorer, features, draft)
    draft.toml = _render(model_name, columns, kinds, sources, features, links, draft, metrics,
                         scorer, template)  # fmt: skip
    return draft


def _numeric(duck_type: str) -> bool:
    return duck_type.upper().startswith(NUMERIC_TYPES)


def _sample(store: TelemetryStore, columns: list[str]) -> dict[str, list[object]]:
    names = ", ".join(duckdb_identifier(c) for c in columns)
    table = store.query(
        f"SELECT {names} FROM decisions LIMIT {SAMPLE}"  # noqa: S608
    )
    return {c: table.column(c).to_pylist() for c in columns}


def _node(column: str) -> str:
    """Node ids keep the source prefix and shorten feat_ to f_, as the bundled playbooks do."""
    return "f_" + column[5:] if column.startswith("feat_") else column


def _link(
    store: TelemetryStore,
    feat: str,
    sources: list[str],
    kinds: dict[str, str],
    sample: dict[str, list[object]],
    draft: Draft,
) -> list[str]:
    """The sources a feature is computed from: one an exact form reproduces, else the names
    and values that agree."""
    stem = feat[5:]
    ranked = sorted(sources, key=lambda s: -_similar(stem, s[4:]))
    for source in ranked:
        if kinds[source] != kinds[feat] and kinds[feat] != "numeric":
            continue
        form = _reference(store, feat, source, kinds)
        if form is not None:
            draft.references[_node(feat)] = form
            draft.notes.append(f"{_node(feat)}: reference {form} reproduces the served values")
            return [source]
    pair = _pair_reference(store, feat, sources, kinds, sample)
    if pair is not None:
        draft.references[_node(feat)] = pair[0]
        draft.notes.append(f"{_node(feat)}: reference {pair[0]} reproduces the served values")
        return pair[1]
    numeric = (
        _numeric_pair(store, feat, sources, kinds, sample) if kinds[feat] == "numeric" else None
    )
    if numeric is not None:
        form, inputs = numeric
        if form is not None:
            draft.references[_node(feat)] = form
            draft.notes.append(f"{_node(feat)}: reference {form} reproduces the served values")
        return inputs
    linked = []
    for source in ranked:
        if _similar(stem, source[4:]) < MIN_NAME_SIMILARITY:
            continue
        measured = kinds[source] == "numeric"
        r = (
            _correlation_arrays(_floats(sample[source]), _floats(sample[feat]))
            if measured
            else None
        )
        correlated = r is not None and abs(r) >= MIN_CORRELATION
        if correlated or kinds[source] == kinds[feat] == "categorical":
            linked.append(source)
    if not linked and ranked and _similar(stem, ranked[0][4:]) >= MIN_NAME_SIMILARITY:
        linked = ranked[:1]  # the names agree although the values could not say
    return linked


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _reference(store: TelemetryStore, feat: str, source: str, kinds: dict[str, str]) -> str | None:
    """The form of the source that reproduces the feature on most rows, if it reaches
    MATCH_SHARE (the most exact wins: least(x, 20) over x when a few counts pass 20)."""
    kind = kinds[feat]
    if kind == "numeric" and kinds[source] != "numeric":
        return None
    forms = [form.format(x="{a}") for form in REFERENCE_FORMS[kind]]
    return _best_form(store, feat, forms, [source], kind == "numeric")


def _pair_reference(
    store: TelemetryStore,
    feat: str,
    sources: list[str],
    kinds: dict[str, str],
    sample: dict[str, list[object]],
) -> tuple[str, list[str]] | None:
    """A 0/1 feature comparing two categorical sources (a mismatch flag)."""
    if kinds[feat] != "numeric" or not _is_flag(_floats(sample[feat])):
        return None
    labels = [s for s in sources if kinds[s] == "categorical"]
    for a in labels:
        for b in labels:  # ordered pairs: lower() applies to one side only
            form = None if a == b else _best_form(store, feat, PAIR_FORMS, [a, b], numeric=True)
            if form is not None:
                return form, [a, b]
    return None


def _numeric_pair(
    store: TelemetryStore,
    feat: str,
    sources: list[str],
    kinds: dict[str, str],
    sample: dict[str, list[object]],
) -> tuple[str | None, list[str]] | None:
    """A feature that is a ratio of two numeric inputs, or a 0/1 flag of one input under a
    threshold: found on the sample in numpy, the exact form then checked in SQL."""
    y = _floats(sample[feat])
    numbers = {s: _floats(sample[s]) for s in sources if kinds[s] == "numeric"}
    flag = _is_flag(y)
    for a, x in numbers.items():
        if flag:
            ok = ~np.isnan(x) & ~np.isnan(y)
            zero, one = x[ok & (y == 0)], x[ok & (y == 1)]
            if zero.size and one.size and one.max() < zero.min():
                cut = float(zero.min())
                form = f"CASE WHEN {{a}} < {cut:g} THEN 1.0 ELSE 0.0 END"
                found = _best_form(store, feat, [form], [a], numeric=True)
                return found, [a]
    ratios = []
    for a, x in numbers.items():
        for b, z in numbers.items():
            with np.errstate(divide="ignore", invalid="ignore"):
                r = None if a == b else _correlation_arrays(x / np.maximum(z, 1), y)
            if r is not None and r >= RATIO_CORRELATION:
                ratios.append((r, a, b))
    if not ratios:
        return None
    _, a, b = max(ratios)  # the pair whose ratio tracks the feature most closely
    return _best_form(store, feat, RATIO_FORMS, [a, b], numeric=True), [a, b]


def _is_flag(y: np.ndarray) -> bool:
    return bool(np.isin(y[~np.isnan(y)], (0.0, 1.0)).all())


def _floats(values: list[object]) -> np.ndarray:
    return np.array(
        [float(v) if isinstance(v, int | float) else np.nan for v in values], dtype=float
    )


def _correlation_arrays(x: np.ndarray, y: np.ndarray) -> float | None:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 10 or x[ok].std() == 0 or y[ok].std() == 0:
        return None
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def _best_form(
    store: TelemetryStore,
    feat: str,
    forms: list[str] | tuple[str, ...],
    inputs: list[str],
    numeric: bool,
) -> str | None:
    f = duckdb_identifier(feat)
    quoted = {k: duckdb_identifier(c) for k, c in zip("ab", inputs, strict=False)}
    present = " AND ".join(f"{q} IS NOT NULL" for q in quoted.values())
    best: tuple[float, str] | None = None
    for form in forms:
        expr = form.format(**quoted)
        if numeric:
            agree = f"abs(CAST({expr} AS DOUBLE) - CAST({f} AS DOUBLE)) <= {TOLERANCE}"
        else:
            agree = f"CAST({expr} AS VARCHAR) = CAST({f} AS VARCHAR)"
        sql = (
            f"SELECT avg(CASE WHEN {agree} THEN 1.0 ELSE 0.0 END) AS share FROM (SELECT * FROM "  # noqa: S608
            f"decisions LIMIT {SAMPLE}) WHERE {f} IS NOT NULL AND {present}"
        )
        try:
            share = store.query(sql).column("share")[0].as_py()
        except ConsoleError:
            continue  # a form the column's values do not fit (ln of a negative, ...)
        if share is not None and share >= MATCH_SHARE and (best is None or share > best[0]):
            best = (share, form.format(**dict(zip("ab", inputs, strict=False))))
    return best[1] if best else None


@dataclass(frozen=True)
class MetricDraft:
    series: str
    expr: str
    error: float | None  # mean absolute difference per bucket from the series


def _metrics(store: TelemetryStore, columns: dict[str, str]) -> list[MetricDraft]:
    """Each metric series with the decisions aggregate that reproduces it best per hour."""
    if "metrics" not in store.tables:
        return []
    series = [r["metric"] for r in store.query(
        "SELECT DISTINCT metric FROM metrics ORDER BY metric").to_pylist()]  # fmt: skip
    values = [
        r["decision"]
        for r in store.query(
            "SELECT decision, count(*) AS n FROM decisions GROUP BY 1 ORDER BY n DESC LIMIT 10"
        ).to_pylist()
        if r["decision"] is not None
    ]
    candidates = [
        f"avg(CASE WHEN decision = {duckdb_string(v)} THEN 1.0 ELSE 0.0 END)" for v in values
    ]
    candidates.append("avg(score)")
    if "status" in columns:
        candidates.append("avg(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END)")
    if "latency_ms" in columns:
        candidates.append("quantile_cont(latency_ms, 0.99)")
    # Outcomes logged with the decision (clicks, conversions): their rate per bucket.
    candidates += [
        f"avg(CAST({duckdb_identifier(c)} AS DOUBLE))"
        for c, t in columns.items()
        if c.startswith("label_") and (_numeric(t) or t.upper() == "BOOLEAN")
    ]
    found = []
    for name in series:
        best: MetricDraft | None = None
        for expr in candidates:
            error = _metric_error(store, name, expr)
            if error is not None and (best is None or best.error is None or error < best.error):
                best = MetricDraft(name, expr, error)
        found.append(best or MetricDraft(name, candidates[0], None))
    return found


def _metric_error(store: TelemetryStore, series: str, expr: str) -> float | None:
    sql = (
        "WITH recomputed AS (SELECT date_trunc('hour', ts) AS bucket, "  # noqa: S608
        f"{expr} AS value FROM decisions GROUP BY 1) "
        "SELECT avg(abs(m.value - r.value)) / greatest(avg(abs(m.value)), 1e-12) AS err "
        "FROM metrics AS m JOIN recomputed AS r ON m.ts = r.bucket WHERE m.metric = $series"
    )
    value = store.query(sql, {"series": series}).column("err")[0].as_py()
    return None if value is None else float(value)


@dataclass(frozen=True)
class ScorerDraft:
    type: str
    threshold: float
    positive: str
    negative: str
    intercept: float
    weights: dict[str, float]


def _scorer(
    sample: dict[str, list[object]],
    features: list[str],
    kinds: dict[str, str],
    forced: str | None = None,
) -> ScorerDraft:
    scores = np.array([np.nan if s is None else float(s) for s in sample["score"]])  # type: ignore[arg-type]
    decisions = sample["decision"]
    labels = sorted({str(d) for d in decisions if d is not None})
    means = {d: float(np.nanmean(scores[[x == d for x in decisions]])) for d in labels}
    positive = max(labels, key=lambda d: means[d]) if labels else "1"
    negative = min(labels, key=lambda d: means[d]) if len(labels) > 1 else "0"
    pos = scores[[d == positive for d in decisions]]
    threshold = float(np.nanmin(pos)) if pos.size and not np.all(np.isnan(pos)) else 0.5
    numeric = [f for f in features if kinds[f] == "numeric"]
    logistic = bool(np.nanmin(scores) > 0 and np.nanmax(scores) < 1) and forced != "linear"
    target = np.log(scores / (1 - scores)) if logistic else scores
    rows = np.array(
        [[np.nan if v is None else float(v) for v in sample[f]] for f in numeric]  # type: ignore[arg-type]
    ).T.reshape(len(scores), len(numeric))
    keep = ~np.isnan(target) & ~np.isnan(rows).any(axis=1)
    weights: dict[str, float] = {}
    intercept = 0.0
    if keep.sum() > len(numeric) + 1:
        design = np.column_stack([np.ones(keep.sum()), rows[keep]])
        solution, *_ = np.linalg.lstsq(design, target[keep], rcond=None)
        intercept = float(solution[0])
        weights = {_node(f): round(float(w), 4) for f, w in zip(numeric, solution[1:], strict=True)}
    return ScorerDraft(
        "logistic" if logistic else "linear", round(threshold, 4), positive, negative,
        round(intercept, 4), weights,
    )  # fmt: skip


def _imported(path: Path, fitted: ScorerDraft, features: list[str], draft: Draft) -> ScorerDraft:
    """The exported model's weights, with the threshold and labels seen in the decisions."""
    model = read_sklearn_json(path, lambda name: name if name.startswith("f_") else _node(name))
    known = {_node(f) for f in features}
    unknown = [n for n in model.weights if n not in known]
    if unknown:
        raise ConsoleError(f"{path}: features {', '.join(unknown)} are not feat_* columns")
    draft.notes.append(f"scorer: {len(model.weights)} weights imported from {path}")
    return ScorerDraft(
        model.type, fitted.threshold if model.threshold is None else model.threshold,
        fitted.positive, fitted.negative, round(model.intercept, 6),
        {k: round(v, 6) for k, v in model.weights.items()},
    )  # fmt: skip


def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _render(
    model_name: str,
    columns: dict[str, str],
    kinds: dict[str, str],
    sources: list[str],
    features: list[str],
    links: dict[str, list[str]],
    draft: Draft,
    metrics: list[MetricDraft],
    scorer: ScorerDraft,
    template: Template,
) -> str:
    out = [
        "# Drafted by `incident-console playbook init` from the telemetry. Every edge is",
        "# tentative: replace each placeholder mechanism with what the pipeline really does.",
        f"# Template {template.name}: {template.shape}.",
        "",
        "[model]",
        f"name = {_q(model_name)}",
        f'owner = "{FILL_IN}: the owning team"',
        f'oncall = "{FILL_IN}: the on-call rota"',
        "",
        "[windows]",
        f"incident = {_q(template.incident)}",
        'baseline = "7d"',
        'baseline_gap = "1d"',
        'postfix = "6h"',
        "",
    ]
    node_ids: list[str] = []

    def node(nid: str, kind: str, ntype: str, expr: str, description: str, **extra: str) -> None:
        node_ids.append(nid)
        out.extend(["[[nodes]]", f"id = {_q(nid)}", f"kind = {_q(kind)}", f"type = {_q(ntype)}",
                    f'owner = "{FILL_IN}"', f"description = {_q(description)}", f"expr = {_q(expr)}"])  # fmt: skip
        out.extend(f"{k} = {_q(v)}" for k, v in extra.items())
        out.append("")

    for s in sources:
        node(s, "source", kinds[s], s, f"Raw input column {s} (drafted).")
    for f in features:
        ref = draft.references.get(_node(f))
        extra = {"reference": ref} if ref else {}
        node(_node(f), "feature", kinds[f], f, f"Feature column {f} as served (drafted).", **extra)
    node("model", "model", "numeric", "score", "The model's score (drafted).")
    node("decision", "decision", "categorical", "decision", "The decision taken (drafted).")
    metric_ids = []
    for m in metrics:
        mid = m.series
        metric_ids.append(mid)
        fit = "not reproduced" if m.error is None else f"recomputed within {m.error:.1%} per hour"
        node(mid, "metric", "numeric", m.expr, f"Series {m.series} ({fit}).", series=m.series)

    def edge(a: str, b: str, intervention: str | None) -> None:
        out.extend(["[[edges]]", f"from = {_q(a)}", f"to = {_q(b)}",
                    f'mechanism = "{FILL_IN}: drafted from the data, say how the source becomes the target"', 'status = "tentative"'])  # fmt: skip
        if intervention:
            out.append(f"intervention = {{ type = {_q(intervention)} }}")
        out.append("")

    for f in features:
        for s in links[f]:
            shape = "recomputable_feature" if _node(f) in draft.references else "source_feature"
            planned = DEFAULT_PLANS[shape]
            edge(s, _node(f), planned)
    for f in features:
        edge(_node(f), "model", DEFAULT_PLANS["feature_model"])
    edge("model", "decision", None)
    for m, mid in zip(metrics, metric_ids, strict=True):
        edge("decision" if "decision" in m.expr else "model", mid, None)
    reads = "label_" if template.paged_on == "label" else "decision"
    paged = next((m.series for m in metrics if reads in m.expr), None)
    triage_metric = paged or (metric_ids[0] if metric_ids else None)
    if triage_metric is None:
        raise ConsoleError("no metric series in the telemetry: a playbook needs a triage metric")
    out += [
        "[triage]",
        f"metric = {_q(triage_metric)}",
        f"direction = {_q(template.direction)}",
        "",
    ]
    out += ["[scorer]", f"type = {_q(scorer.type)}", f"threshold = {scorer.threshold}",
            f"positive = {_q(scorer.positive)}", f"negative = {_q(scorer.negative)}",
            f"intercept = {scorer.intercept}", "", "[scorer.weights]"]  # fmt: skip
    out += [f"{_q(k)} = {v}" for k, v in scorer.weights.items() if math.isfinite(v)]
    sensitive = [
        c
        for c in columns
        if not c.startswith("feat_")
        and (any(h in c.lower().split("_") for h in SENSITIVE_HINTS) or c.lower().endswith("_ip"))
    ]
    out += ["", "[privacy]", f"sensitive = [{', '.join(_q(c) for c in sensitive)}]", ""]
    return "\n".join(out)
