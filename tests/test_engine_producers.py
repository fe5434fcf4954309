"""Producer concentration (console.engine.producers) on small generated stores.

Three and a half days of decisions, every hour, from three partners (seg_partner) and two
regions (seg_region, independent of the partner); the incident is the last 6 h, the baseline
two days ending a day before. Each test moves the amount raw_x (or the category raw_c) in
some producers during the incident and reads where measure_concentration puts the shift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from two_source_store import HOURS, INCIDENT_START, T0, TS, open_context

from console.engine.context import Context
from console.engine.producers import (
    DOMINANCE,
    MAX_SHARE,
    MEDIUM,
    MISSING,
    OTHER,
    TOP_VALUES,
    measure_concentration,
    producer_columns,
)
from console.errors import ConsoleError

Build = Callable[..., Context]


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Build]:
    """build(per_hour, partner_p, shift, ...) -> a Context over a freshly written store."""
    opened: list[Context] = []

    def make(
        per_hour: int = 60,
        partner_p: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3),
        shift: dict[str, float] | None = None,
        null_in: str | None = None,
        flip_in: str | None = None,
        extra: Callable[[np.random.Generator, int], dict[str, object]] | None = None,
        version: bool = True,
        segments: bool = True,
        producers: tuple[str, ...] = (),
    ) -> Context:
        rng = np.random.default_rng(11)
        n = HOURS * per_hour
        seconds = np.repeat(np.arange(HOURS) * 3600, per_hour) + rng.integers(0, 3600, n)
        ts = np.array([T0 + timedelta(seconds=int(s)) for s in seconds])
        incident = np.array([t >= INCIDENT_START for t in ts])
        partner = rng.choice(["p1", "p2", "p3"], n, p=list(partner_p))
        raw_x = rng.normal(100.0, 10.0, n)
        for name, sd in (shift or {}).items():
            raw_x = raw_x + np.where(incident & (partner == name), sd * 10.0, 0.0)
        raw_c = rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1])
        if flip_in is not None:
            # The partner starts sending C for most of what was A.
            flip = incident & (partner == flip_in) & (raw_c == "A") & (rng.random(n) < 0.7)
            raw_c = np.where(flip, "C", raw_c)
        x_values = raw_x.tolist()
        if null_in is not None:
            x_values = [
                None if (inc and p == null_in and r < 0.5) else v
                for v, inc, p, r in zip(x_values, incident, partner, rng.random(n), strict=True)
            ]
        data: dict[str, object] = {
            "prediction_id": [f"r{i}" for i in range(n)],
            "ts": pa.array(ts.tolist(), TS),
            "raw_x": pa.array(x_values, pa.float64()),
            "raw_c": raw_c,
        }
        if segments:
            data["seg_partner"] = partner
            data["seg_region"] = rng.choice(["north", "south"], n)
        if version:
            data["model_version"] = ["v1"] * n
        data.update((extra or (lambda _rng, _n: {}))(rng, n))
        evidence = f"\n[evidence]\nproducers = {list(producers)!r}\n" if producers else ""
        ctx = open_context(tmp_path / f"store{len(opened)}", pa.table(data), evidence)
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        ctx.store.close()


def test_a_shift_in_one_partner_is_concentrated_there(build: Build) -> None:
    ctx = build(shift={"p2": 1.5})
    result = measure_concentration(ctx, "x")
    assert result.columns == ["seg_partner", "seg_region", "model_version"]
    assert (result.column, result.value) == ("seg_partner", "p2")
    assert result.effect_in is not None and result.effect_in > 1.2
    assert result.effect_others is not None and result.effect_others < 0.3
    assert abs(result.effect_in) >= DOMINANCE * result.effect_others
    assert result.share_rows is not None and 0.25 < result.share_rows < 0.42
    assert not result.spread
    partners = {p.value: p for p in result.per_producer["seg_partner"]}
    assert result.per_producer["seg_partner"][0].value == "p2"  # largest |effect| first
    assert all(abs(partners[v].effect or 9.0) < 0.3 for v in ("p1", "p3"))
    assert partners["p2"].rows_incident + partners["p1"].rows_incident > 0
    assert "concentrated in seg_partner = 'p2'" in result.reasons[0]
    assert len(result.sql) == 1 and "GROUPING SETS" in result.sql[0]
    assert result.to_dict()["value"] == "p2"


def test_a_shift_in_every_partner_is_spread_not_concentrated(build: Build) -> None:
    result = measure_concentration(build(shift={"p1": 1.0, "p2": 1.0, "p3": 1.0}), "x")
    assert result.column is None and result.value is None and result.effect_in is None
    assert result.spread
    assert all((p.effect or 0.0) > 0.7 for p in result.per_producer["seg_partner"])
    assert any("spread across producers" in r for r in result.reasons)
    assert "shared by every producer" in result.reasons[0]


def test_a_producer_that_is_the_traffic_is_not_concentrated(build: Build) -> None:
    ctx = build(per_hour=200, partner_p=(0.9, 0.05, 0.05), shift={"p1": 1.5})
    result = measure_concentration(ctx, "x")
    top = result.per_producer["seg_partner"][0]
    assert top.value == "p1" and (top.effect or 0.0) > 1.2  # it moved, alone...
    assert top.rows_incident / sum(p.rows_incident for p in result.per_producer["seg_partner"]) > (
        MAX_SHARE
    )
    assert result.column is None  # ...but it carries 90% of the rows: no evidence of where
    assert any("IS the traffic" in r for r in result.reasons)


def test_a_big_producer_moving_alone_is_concentrated_and_never_also_spread(build: Build) -> None:
    # Three quarters of the rows moved: enough to count as "most rows" on their own, but the
    # shift is in one producer, so it is concentrated and not spread (never both).
    ctx = build(per_hour=200, partner_p=(0.75, 0.125, 0.125), shift={"p1": 1.5})
    result = measure_concentration(ctx, "x")
    assert (result.column, result.value) == ("seg_partner", "p1")
    assert result.share_rows is not None and 0.7 < result.share_rows < MAX_SHARE
    assert not result.spread


def test_nothing_moved_is_neither_concentrated_nor_spread(build: Build) -> None:
    result = measure_concentration(build(), "x")
    assert result.column is None and not result.spread
    assert all(abs(p.effect or 0.0) < MEDIUM for ps in result.per_producer.values() for p in ps)


def test_a_jump_in_nulls_in_one_partner_is_concentrated(build: Build) -> None:
    result = measure_concentration(build(null_in="p3"), "x")
    assert (result.column, result.value) == ("seg_partner", "p3")
    assert result.effect_in is not None and result.effect_in > 1.0  # Cohen's h of 0 -> 50%


def test_a_categorical_shift_in_one_partner_is_concentrated(build: Build) -> None:
    result = measure_concentration(build(flip_in="p1"), "c")
    assert (result.column, result.value) == ("seg_partner", "p1")
    assert not result.spread


def test_many_values_keep_the_top_and_fold_the_rest(build: Build) -> None:
    def shards(rng: np.random.Generator, n: int) -> dict[str, object]:
        # 50 shards, shard-00 the busiest; one row in 20 has no shard at all.
        weights = np.linspace(2.0, 1.0, 50)
        shard = rng.choice([f"shard-{i:02d}" for i in range(50)], n, p=weights / weights.sum())
        return {"seg_shard": [None if rng.random() < 0.05 else s for s in shard]}

    result = measure_concentration(build(per_hour=400, extra=shards), "x")
    values = [p.value for p in result.per_producer["seg_shard"]]
    assert len(values) == TOP_VALUES + 1 and OTHER in values and MISSING in values
    other = next(p for p in result.per_producer["seg_shard"] if p.value == OTHER)
    assert other.rows_incident > 0 and other.rows_baseline > 0


def test_no_producer_columns_says_so(build: Build) -> None:
    ctx = build(version=False, segments=False)
    assert producer_columns(ctx) == []
    result = measure_concentration(ctx, "x")
    assert result.columns == [] and result.column is None and not result.spread
    assert result.sql == [] and "no producer columns" in result.reasons[0]


def test_the_playbook_names_the_producers(build: Build) -> None:
    ctx = build(shift={"p2": 1.5}, producers=("seg_region",))
    assert ctx.playbook.producers == ("seg_region",)
    result = measure_concentration(ctx, "x")
    assert result.columns == ["seg_region"]
    assert result.column is None  # both regions hold a third of p2's rows: moved alike


def test_a_named_producer_missing_from_the_decisions_is_an_error(build: Build) -> None:
    ctx = build(producers=("seg_nowhere",))
    with pytest.raises(ConsoleError, match="seg_nowhere") as caught:
        measure_concentration(ctx, "x")
    assert caught.value.key == "evidence.producers"


def test_results_are_cached_per_node(build: Build) -> None:
    ctx = build(shift={"p2": 1.5})
    first = measure_concentration(ctx, "x")
    assert measure_concentration(ctx, "x") is first
    assert measure_concentration(ctx, "c") is not first
