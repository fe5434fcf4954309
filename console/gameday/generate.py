"""Generate a game-day scenario folder: telemetry, playbook copy, scenario card, answer key.

    generate_scenario("fraud-friday-noon", Path("out/"), rows=10_000_000, seed=7)

Deterministic: the same name, rows and seed give the same tables. Decision rows are generated
and written in chunks of whole hours (one Parquet row group each), so ten million rows need
memory for one chunk, not for the whole store; the hourly metric series are computed from each
chunk's decisions as it is written.
"""

from __future__ import annotations

import json
import tomllib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

from console.errors import ConsoleError
from console.files import atomic_path, atomic_write
from console.gameday.answers import ANSWER_FILE, AnswerKey
from console.gameday.batch import (
    US_PER_HOUR,
    Batch,
    Cat,
    PlaybookScorer,
    numeric,
    prefixed_ids,
    token_strings,
)
from console.gameday.scenario_types import MetricsDefect, Scenario
from console.gameday.scenarios import get_scenario
from console.paths import playbook_path
from console.telemetry.windows import format_utc

DATA_START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
MIN_ROWS = 2_000
CHUNK_ROWS = 400_000
SCENARIO_FILE = "scenario.toml"
PLAYBOOK_FILE = "playbook.toml"
PHASES = ("world", "ingest", "serving", "ops")
TS_TYPE = pa.timestamp("us", tz="UTC")
METRICS_SCHEMA = pa.schema(
    [("ts", TS_TYPE), ("metric", pa.string()), ("value", pa.float64()), ("labels", pa.string())]
)
CHANGES_SCHEMA = pa.schema(
    [
        ("ts", TS_TYPE),
        ("kind", pa.string()),
        ("node", pa.string()),
        ("summary", pa.string()),
        ("actor", pa.string()),
    ]
)
# Sorted timestamps and sequential ids: delta encodings make them nearly free.
DELTA_ENCODED = {"ts": "DELTA_BINARY_PACKED", "prediction_id": "DELTA_BYTE_ARRAY"}
LEADING_COLUMNS = (
    "prediction_id",
    "ts",
    "model_version",
    "score",
    "decision",
    "latency_ms",
    "status",
)


@dataclass(frozen=True)
class MetricPoint:
    hour: int  # bucket, hours after DATA_START
    metric: str
    value: float


def generate_scenario(
    name: str, out: Path, rows: int | None = None, seed: int | None = None
) -> Path:
    """Write the scenario `name` into the folder `out` (created) and return it.

    rows: decision rows, seed: random seed (defaults: the scenario's bundled rows and seed).
    """
    scenario = get_scenario(name)
    rows = scenario.default_rows if rows is None else int(rows)
    seed = scenario.seed if seed is None else int(seed)
    if rows < MIN_ROWS:
        raise ConsoleError(f"--rows {rows}: a scenario needs at least {MIN_ROWS} decision rows")
    if seed < 0:
        raise ConsoleError(f"--seed {seed}: the seed must be 0 or more")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConsoleError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)

    source = playbook_path(scenario.pipeline.playbook)
    playbook_bytes = source.read_bytes()
    scorer = PlaybookScorer.from_playbook(source)
    model_name = tomllib.loads(playbook_bytes.decode("utf-8"))["model"]["name"]

    points = _write_decisions(scenario, scorer, out / "decisions.parquet", rows, seed)
    if scenario.metrics_defect is not None:
        points = _apply_metrics_defect(scenario, scenario.metrics_defect, points)
    _write_parquet(out / "metrics.parquet", _metrics_table(points, model_name))
    _write_parquet(out / "changes.parquet", _changes_table(scenario))
    atomic_write(out / PLAYBOOK_FILE, playbook_bytes)
    atomic_write(
        out / SCENARIO_FILE,
        tomli_w.dumps(_scenario_card(scenario, model_name, rows, seed)).encode(),
    )
    atomic_write(out / ANSWER_FILE, tomli_w.dumps(answer_key(scenario).to_toml()).encode())
    return out


def at_hours(hours: float) -> datetime:
    """DATA_START + hours, to the second."""
    return DATA_START + timedelta(seconds=round(hours * 3600))


def alert_time(scenario: Scenario) -> datetime:
    return at_hours(scenario.incident_at + scenario.alert_after)


def answer_key(scenario: Scenario) -> AnswerKey:
    a = scenario.answer
    fixed = None if a.fixed_at is None else at_hours(scenario.incident_at + a.fixed_at)
    return AnswerKey(
        scenario=scenario.name,
        kind=a.kind,
        node=a.node,
        edge=a.edge,
        explanation=a.explanation,
        detection=a.detection,
        decoys=a.decoys,
        also_accept=a.also_accept,
        fixed_at=fixed,
    )


# ---- decisions ---------------------------------------------------------------------------


def hourly_weights(scenario: Scenario) -> np.ndarray:
    """Traffic shape per hour of the data: a daily cycle (quiet at 04:00 UTC, busy at 16:00)
    and the pipeline's weekend level."""
    hours = np.arange(scenario.data_hours)
    hour_of_day = hours % 24
    daily = 1.0 + 0.7 * np.sin((hour_of_day - 10.0) / 24.0 * 2 * np.pi)
    weekend = np.where((hours // 24) % 7 >= 5, scenario.pipeline.weekend, 1.0)
    return daily * weekend


def _chunks(counts: np.ndarray) -> Iterator[tuple[int, int]]:
    """Consecutive hour ranges [h0, h1) holding about CHUNK_ROWS rows each."""
    h0, total = 0, 0
    for h, count in enumerate(counts):
        total += int(count)
        if total >= CHUNK_ROWS:
            yield h0, h + 1
            h0, total = h + 1, 0
    if h0 < len(counts):
        yield h0, len(counts)


def _write_decisions(
    scenario: Scenario, scorer: PlaybookScorer, path: Path, rows: int, seed: int
) -> list[MetricPoint]:
    key = zlib.crc32(scenario.name.encode())
    weights = hourly_weights(scenario)
    counts = np.random.default_rng([seed, key, 0]).multinomial(rows, weights / weights.sum())
    load = weights / weights.mean()
    width = max(8, len(str(rows)))
    points: list[MetricPoint] = []
    schema: pa.Schema | None = None
    first_row = 0
    with atomic_path(path) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            for index, (h0, h1) in enumerate(_chunks(counts)):
                rng = np.random.default_rng([seed, key, index + 1])
                batch, hour_index = _simulate(scenario, scorer, rng, counts, load, h0, h1)
                points += _metric_points(scenario, scorer, batch, hour_index)
                table = _decisions_table(scenario, batch, first_row, width)
                if writer is None or schema is None:  # the first chunk opens the file
                    schema = table.schema
                    writer = pq.ParquetWriter(
                        tmp,
                        schema,
                        compression="zstd",
                        use_dictionary=[c for c in schema.names if c not in DELTA_ENCODED],
                        column_encoding=DELTA_ENCODED,
                    )
                writer.write_table(table.cast(schema), row_group_size=table.num_rows)
                first_row += batch.n
        finally:
            if writer is not None:
                writer.close()
    return points


def _simulate(
    scenario: Scenario,
    scorer: PlaybookScorer,
    rng: np.random.Generator,
    counts: np.ndarray,
    load: np.ndarray,
    h0: int,
    h1: int,
) -> tuple[Batch, np.ndarray]:
    """One chunk of decisions, hours [h0, h1), through every phase of the pipeline."""
    pipeline = scenario.pipeline
    hour_index = np.repeat(np.arange(h0, h1), counts[h0:h1])
    start_us = int(DATA_START.timestamp()) * 1_000_000
    # Millisecond resolution, as the serving logs record it (and it compresses better).
    offsets = rng.integers(0, US_PER_HOUR // 1000, len(hour_index)) * 1000
    ts = np.sort(start_us + hour_index * US_PER_HOUR + offsets)
    hour = (ts - start_us) / US_PER_HOUR
    b = Batch(ts=ts, hour=hour, hour_of_day=hour % 24, load=load[hour_index])
    relative = hour - scenario.incident_at

    def run(phase: str) -> None:
        for effect in scenario.effects:
            if effect.phase == phase:
                rows = (relative >= effect.start) & (relative < effect.end)
                if rows.any():
                    effect.apply(rng, b, rows)

    pipeline.sample(rng, b)
    pipeline.serving.sample(rng, b)
    run("world")
    pipeline.truth(rng, scorer, b)
    run("ingest")
    pipeline.features(b)
    run("serving")
    score = scorer.score(b.cols)
    decision = scorer.decide(score)
    error = b.hidden["error"]
    decision.codes = np.where(error, 0, decision.codes).astype(np.int32)  # fail open: negative
    b.cols["score"] = np.where(error, np.nan, score)
    b.cols["decision"] = decision
    b.cols["status"] = Cat(error.astype(np.int32), ["ok", "error"])
    versions = [pipeline.model_version] + [v for _, v in scenario.model_versions]
    served = np.zeros(b.n, dtype=np.int32)
    for at, _ in scenario.model_versions:
        served += (relative >= at).astype(np.int32)
    b.cols["model_version"] = Cat(served, versions)
    run("ops")
    pipeline.outcomes(rng, b)
    return b, hour_index


def _metric_points(
    scenario: Scenario, scorer: PlaybookScorer, b: Batch, hour_index: np.ndarray
) -> list[MetricPoint]:
    """Per hour bucket: the triage rate, the error rate and p99 latency, from the decisions
    exactly as the playbook's metric expressions compute them."""
    pipeline = scenario.pipeline
    hours, starts, counts = np.unique(hour_index, return_index=True, return_counts=True)
    local = np.searchsorted(hours, hour_index)
    rate = np.bincount(local, weights=pipeline.rate_indicator(b, scorer.positive)) / counts
    errors = np.bincount(local, weights=b.cat("status").is_("error").astype(np.float64)) / counts
    latency = b.num("latency_ms")
    points = []
    for i, h in enumerate(hours.tolist()):
        p99 = float(np.quantile(latency[starts[i] : starts[i] + counts[i]], 0.99))
        points += [
            MetricPoint(h, pipeline.rate_series, float(rate[i])),
            MetricPoint(h, pipeline.error_series, float(errors[i])),
            MetricPoint(h, pipeline.latency_series, p99),
        ]
    return points


def _decisions_table(scenario: Scenario, b: Batch, first_row: int, width: int) -> pa.Table:
    pipeline = scenario.pipeline
    tokens = {column: (prefix, digits) for column, prefix, digits in pipeline.tokens}
    arrays: dict[str, pa.Array] = {
        "prediction_id": prefixed_ids(f"{pipeline.id_prefix}-", first_row, b.n, width),
        "ts": pa.array(b.ts, type=TS_TYPE),
    }
    names = list(LEADING_COLUMNS[2:])
    for prefix in ("raw_", "feat_", "seg_", "label_"):
        names += [c for c in b.cols if c.startswith(prefix)]
    for column in names:
        value = b.cols[column]
        if column in tokens:
            number = numeric(value, column)
            arrays[column] = token_strings(tokens[column][0], number, tokens[column][1])
        elif isinstance(value, Cat):
            arrays[column] = value.to_arrow()
        elif value.dtype.kind == "f":
            missing = np.isnan(value)
            arrays[column] = pa.array(value, mask=missing if missing.any() else None)
        else:
            arrays[column] = pa.array(value)
    return pa.table(arrays)


# ---- metrics, changes, cards -------------------------------------------------------------


def _apply_metrics_defect(
    scenario: Scenario, defect: MetricsDefect, points: list[MetricPoint]
) -> list[MetricPoint]:
    """The metrics agent's fault: a gap, then late clock, duplicate rows, double counting."""
    gap_start, gap_end = (scenario.incident_at + h for h in defect.gap)
    skew_from = scenario.incident_at + defect.skew_from
    out = []
    for p in points:
        if gap_start <= p.hour < gap_end:
            continue
        if p.hour >= skew_from:
            factor = defect.rate_factor if p.metric == scenario.pipeline.rate_series else 1.0
            moved = MetricPoint(p.hour + int(defect.skew_hours), p.metric, p.value * factor)
            out += [moved] * defect.copies
        else:
            out.append(p)
    return out


def _metrics_table(points: list[MetricPoint], model_name: str) -> pa.Table:
    points = sorted(points, key=lambda p: (p.hour, p.metric))
    start_us = int(DATA_START.timestamp()) * 1_000_000
    labels = json.dumps({"env": "prod", "model": model_name}, sort_keys=True)
    return pa.table(
        {
            "ts": pa.array([start_us + p.hour * US_PER_HOUR for p in points], type=TS_TYPE),
            "metric": pa.array([p.metric for p in points], pa.string()),
            "value": pa.array([p.value for p in points], pa.float64()),
            "labels": pa.array([labels] * len(points), pa.string()),
        },
        schema=METRICS_SCHEMA,
    )


def _changes_table(scenario: Scenario) -> pa.Table:
    changes = sorted(scenario.changes, key=lambda c: c.at)
    return pa.table(
        {
            "ts": pa.array([at_hours(scenario.incident_at + c.at) for c in changes], TS_TYPE),
            "kind": [c.kind for c in changes],
            "node": [c.node for c in changes],
            "summary": [c.summary for c in changes],
            "actor": [c.actor for c in changes],
        },
        schema=CHANGES_SCHEMA,
    )


def _scenario_card(scenario: Scenario, model_name: str, rows: int, seed: int) -> dict:
    """scenario.toml: what a facilitator reads out and a UI shows; never the answer."""
    return {
        "name": scenario.name,
        "title": scenario.title,
        "difficulty": scenario.difficulty,
        "story": scenario.story,
        "playbook": PLAYBOOK_FILE,
        "model": model_name,
        "alert_at": format_utc(alert_time(scenario)),
        "metric": scenario.metric,
        "data_start": format_utc(DATA_START),
        "data_end": format_utc(at_hours(scenario.data_hours)),
        "rows": rows,
        "seed": seed,
    }


# ---- files -------------------------------------------------------------------------------


def _write_parquet(path: Path, table: pa.Table) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
