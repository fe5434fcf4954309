"""The bundled game-day scenarios: the first seven here (what happens, when, and what the
answer is), the claims model's six in console/gameday/claims_scenarios.py, all registered in
SCENARIOS. Their shapes (Scenario, Effect, Change, Answer) and the effect building blocks are in
console/gameday/scenario_types.py.

Decoys are changes and shifts an engineer may suspect: each one moves something real, but the
edge it sits on still does what its mechanism says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from console.errors import ConsoleError
from console.gameday.answers import Decoy
from console.gameday.batch import Batch, Cat
from console.gameday.claims_scenarios import CLAIMS_SCENARIOS
from console.gameday.pipelines import (
    CREDIT,
    FRAUD,
    GENRES,
    RECS,
    raw_genre_codes,
)
from console.gameday.scenario_types import (
    Answer,
    Change,
    Effect,
    EffectFn,
    MetricsDefect,
    Scenario,
    add_points,
    remap_category,
    scale_numeric,
)

# ---- 1. recs-weekday-afternoon ------------------------------------------------------------


def streamco_iab_codes(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """StreamCo's feed v2 sends IAB taxonomy codes for the items it re-publishes (about
    two thirds of its catalogue in the window); our ingest copies them verbatim."""
    iab = rows & (b.hidden["provider"] == 0) & (rng.random(b.n) < 0.67)
    b.cat("raw_item_genre").codes = raw_genre_codes(b.hidden["provider"], b.hidden["genre"], iab)


def northwind_clips(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """Northwind News starts sending short clips: durations drop to a third."""
    pick = rows & (b.hidden["provider"] == 2)
    d = b.num("raw_item_duration_s")
    b.cols["raw_item_duration_s"] = np.where(pick, np.maximum(np.round(d * 0.3), 5), d).astype(
        d.dtype
    )


RECS_METADATA = Scenario(
    name="recs-weekday-afternoon",
    title="Home feed: click-through down a quarter on a weekday afternoon",
    pipeline=RECS,
    story=(
        "It is Thursday, 15:15 UTC. The feed-ranking dashboard shows click-through on the home "
        "feed about a quarter below the same hours last week, and the product analytics channel is "
        "asking whether the morning's ranker rollout broke personalisation. Nothing is down: "
        "latency and errors look normal. You are the feed-ranking on-call. Find out what "
        "changed, prove it with the playbook's interventions, size the impact and decide what "
        "to roll back."
    ),
    incident_at=10 * 24 + 11,
    alert_after=4 + 15 / 60,
    metric="ctr",
    difficulty="medium",
    default_rows=36_000,
    effects=(
        Effect("ingest", 0, 7, streamco_iab_codes),
        Effect("world", -3, 1e9, northwind_clips),
    ),
    changes=(
        Change(
            -30,
            "model",
            "click_model",
            "ranker-2026.11.1: re-export of the same coefficients (ONNX opset 18)",
            "ci: feed-ranking",
        ),
        Change(
            -3,
            "data_source",
            "raw_item_duration_s",
            "Northwind News starts publishing 60-120 s clips alongside articles",
            "content-partnerships",
        ),
        Change(
            0,
            "data_source",
            "raw_item_genre",
            "StreamCo metadata feed v2 enabled on the provider side (announced in their partner newsletter)",
            "streamco (provider)",
        ),
        Change(
            1,
            "deploy",
            "ranker_server",
            "feed-ranker pods: Triton 24.10 -> 24.11, no model change",
            "ml-serving-platform",
        ),
        Change(
            7,
            "config",
            "raw_item_genre",
            "content-ingest pins StreamCo to feed v1 until the IAB genre mapping ships",
            "oncall: feed-ranking",
        ),
    ),  # fmt: skip
    model_versions=((-30, "ranker-2026.11.1"),),
    answer=Answer(
        kind="broken_edge",
        node="raw_item_genre",
        edge=("raw_item_genre", "f_item_genre"),
        explanation=(
            "StreamCo's feed v2 sends IAB content-taxonomy codes (IAB17, IAB1-5, ...) instead of "
            "genre names; the feature service maps every unknown genre to 'other', so StreamCo "
            "items lose their genre weight and never match the user's top genre, sink below the "
            "fold, and click-through falls."
        ),
        detection=(
            "distribution_shift on raw_item_genre -> f_item_genre: new raw categories (IAB codes, "
            "~30% of incident rows) and vanished ones (StreamCo's capitalised names); f_item_genre "
            "= 'other' jumps from 0% to ~30%. Shadow recomputes all pass (the pipeline computes "
            "what it was told). Pinning feed v1 at the fix restores the categories and the CTR."
        ),
        decoys=(
            Decoy(
                "raw_item_duration_s",
                "Northwind's clips shift durations a lot, but f_log_duration is recomputed exactly and its weight is tiny.",
            ),
            Decoy(
                "ranker_server",
                "A deploy one hour into the incident; latency, errors and re-scored scores are unchanged.",
            ),
            Decoy(
                "click_model",
                "A new model version the day before; re-scoring with the playbook scorer matches both versions.",
            ),
        ),  # fmt: skip
        fixed_at=7,
    ),
)

# ---- 2. credit-after-lunch ------------------------------------------------------


def documents_no_longer_verified(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """Veritax dictionary v3: 'verified' means payroll-confirmed only; incomes confirmed from
    documents now come back as 'self_reported'."""
    col: Cat = b.cat("raw_income_verification")
    moved = rows & b.hidden["verified_by_documents"]
    col.codes = np.where(moved, col.vocab.index("self_reported"), col.codes).astype(np.int32)


CREDIT_VENDOR = Scenario(
    name="credit-after-lunch",
    title="Loans: denial rate up after lunch, nobody deployed the model",
    pipeline=CREDIT,
    story=(
        "Thursday, 17:15 UTC. Credit policy pings #credit-risk-oncall: the hourly denial rate "
        "for personal loans is well above its usual band since early afternoon, and partner "
        "channels report applicants with solid payslips being declined. Growth launched a "
        "pre-approved offers campaign around noon. The model version has not changed this week. "
        "Work out whether this is the campaign, the model, or something in the inputs."
    ),
    incident_at=10 * 24 + 13,
    alert_after=4.25,
    metric="denial_rate",
    difficulty="hard",
    default_rows=30_000,
    effects=(
        Effect("ingest", 0, 7, documents_no_longer_verified),
        Effect(
            "world",
            -2,
            1e9,
            scale_numeric(
                "raw_loan_amount",
                2.5,
                lambda b: b.num("raw_bureau_score") >= 650,
                decimals=-2,
                upper=60_000,
            ),
        ),
        Effect("world", -30, 1e9, add_points("raw_bureau_score", 6, 1.0, upper=850)),
    ),  # fmt: skip
    changes=(
        Change(
            -30,
            "data_source",
            "raw_bureau_score",
            "CreditLine v9.1: scores rescaled by +5 to +8 points (vendor notice CL-2026-44)",
            "creditline (vendor)",
        ),
        Change(
            -2,
            "config",
            "raw_loan_amount",
            "Pre-approved offers campaign (email, bureau 650+): suggested amounts x2.5",
            "growth-marketing",
        ),
        Change(
            0,
            "data_source",
            "raw_income_verification",
            "Veritax API: data dictionary v3 effective (release notes: 'status values clarified')",
            "veritax (vendor)",
        ),
        Change(
            0.5,
            "deploy",
            "model_server",
            "underwriting-pd pods moved to the c7 node pool",
            "ml-serving-platform",
        ),
        Change(
            7,
            "config",
            "raw_income_verification",
            "Pinned the Veritax API to dictionary v2 (header X-Dictionary-Version: 2)",
            "oncall: credit-risk-ml",
        ),
    ),  # fmt: skip
    answer=Answer(
        kind="broken_edge",
        node="raw_income_verification",
        edge=("raw_income_verification", "f_income_verified"),
        explanation=(
            "Veritax's dictionary v3 reserves 'verified' for payroll-confirmed incomes; incomes "
            "confirmed from documents now arrive as 'self_reported', so f_income_verified drops "
            "to 0 for them, their PD rises by the verified-income weight and many cross the "
            "denial threshold."
        ),
        detection=(
            "distribution_shift on raw_income_verification -> f_income_verified: the share of "
            "'verified' falls from ~60% to ~35% and 'self_reported' rises accordingly (PSI ~0.3 > "
            "0.1) from the vendor's change, with no new categories; the shadow recompute passes "
            "(the mapping is applied faithfully to the new meaning). Pinning dictionary v2 "
            "restores the mix and the denial rate."
        ),
        decoys=(
            Decoy(
                "raw_loan_amount",
                "The campaign multiplies requested amounts by 2.5 for applicants with bureau 650+ two hours before: the largest shift in any input (PSI ~0.4), but on its own it moves denials by a point at most and f_loan_to_income is recomputed exactly.",
            ),
            Decoy(
                "raw_bureau_score",
                "A vendor rescale the day before moves scores up a few points: it lowers PD slightly, the opposite direction.",
            ),
            Decoy(
                "model_server",
                "A node-pool move half an hour in; latency, errors and re-scores are unchanged.",
            ),
        ),  # fmt: skip
        fixed_at=7,
    ),
)

# ---- 3. fraud-friday-noon ---------------------------------------------------------------


def card_age_missing(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """CoreIssue's card-profile v5 moved opened_on; for migrated BIN ranges (a quarter of
    cards) the ingest finds no open date and writes NULL."""
    migrated = rows & (b.num("raw_card_token") % 20 < 5)
    b.cols["raw_card_age_days"] = np.where(migrated, np.nan, b.num("raw_card_age_days"))


def grocery_cashback(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """FreshMart's co-brand cashback launch: a third of transactions move to grocery
    baskets (which the model scores lower)."""
    category: Cat = b.cat("raw_merchant_category")
    move = rows & (rng.random(b.n) < 0.3)
    category.codes = np.where(move, category.vocab.index("GROCERY"), category.codes).astype(
        np.int32
    )
    basket = np.round(np.clip(np.exp(3.5 + 0.8 * rng.standard_normal(b.n)), 0.5, 25_000.0), 2)
    b.cols["raw_amount"] = np.where(move, basket, b.num("raw_amount"))


def electronics_sale(b: Batch) -> np.ndarray:
    cat: Cat = b.cat("raw_merchant_category")
    return cat.is_("ELECTRONICS") | cat.is_("FASHION")


FRAUD_NAN = Scenario(
    name="fraud-friday-noon",
    title="Card fraud: declines surge on a Friday at noon",
    pipeline=FRAUD,
    story=(
        "Friday, 16:05 UTC. Customer support escalates a wave of declined cards, many of them "
        "long-standing customers; the Risk / Declines dashboard shows the decline rate more than "
        "twice its usual level since noon. Pre-Black-Friday sales are on, a grocery "
        "co-brand card launched this morning, a new IP reputation feed went live and the "
        "velocity job was redeployed at lunchtime. You are "
        "the risk-ml on-call: find the cause before the weekend traffic."
    ),
    incident_at=11 * 24 + 12,
    alert_after=4 + 5 / 60,
    metric="decline_rate",
    difficulty="medium",
    default_rows=30_000,
    effects=(
        Effect("world", -14, 1e9, scale_numeric("raw_amount", 1.35, electronics_sale)),
        Effect("world", -6, 1e9, grocery_cashback),
        Effect("world", -4, 1e9, add_points("raw_ip_risk", 8, 0.25)),
        Effect("ingest", 0, 7, card_age_missing),
    ),
    changes=(
        Change(
            -6,
            "config",
            "raw_merchant_category",
            "FreshMart co-brand card launch: 5% cashback at FreshMart stores",
            "card-partnerships",
        ),
        Change(
            -4,
            "data_source",
            "raw_ip_risk",
            "IP reputation list build now includes the SpamTrap feed",
            "device-intel",
        ),
        Change(
            0,
            "schema",
            "raw_card_age_days",
            "CoreIssue card-profile API v5 for BIN ranges 4147xx-4159xx (migration wave 2)",
            "coreissue (vendor)",
        ),
        Change(
            0.5,
            "deploy",
            "raw_txn_count_1h",
            "Flink velocity job 3.8.1: checkpoint interval 30 s -> 60 s",
            "risk-streaming",
        ),
        Change(
            7,
            "deploy",
            "raw_card_age_days",
            "card-profile ingest 2.14: read lifecycle.opened_on (v5) with fallback to opened_on",
            "oncall: card-platform",
        ),
    ),  # fmt: skip
    answer=Answer(
        kind="broken_edge",
        node="raw_card_age_days",
        edge=("raw_card_age_days", "f_card_age"),
        explanation=(
            "The card-profile API v5 moved the card's open date; for migrated BIN ranges the "
            "ingest reads nothing, raw_card_age_days and f_card_age are NULL, the model fills "
            "NULL with 0 - a brand-new card - and the score jumps for a quarter of transactions."
        ),
        detection=(
            "null_rate on raw_card_age_days -> f_card_age: ~25% NULL in the incident window, 0% in "
            "the baseline (max_increase 0.02); back to 0% after the ingest fix. The shadow "
            "recomputes of the other features pass."
        ),
        decoys=(
            Decoy(
                "raw_amount",
                "Pre-Black-Friday sales raise electronics and fashion amounts from the evening before; f_log_amount is recomputed exactly and the effect on scores is small.",
            ),
            Decoy(
                "raw_ip_risk",
                "The new reputation feed raises IP risk for a quarter of rows four hours before; fresh (freshness passes) and a modest score effect.",
            ),
            Decoy(
                "raw_txn_count_1h",
                "A velocity-job deploy half an hour in; f_velocity_1h is recomputed exactly.",
            ),
            Decoy(
                "raw_merchant_category",
                "The FreshMart cashback launch six hours before moves a third of transactions to grocery: the largest input shift, recomputed exactly, and it lowers scores, the opposite direction.",
            ),
        ),  # fmt: skip
        fixed_at=7,
    ),
)

# ---- 4. credit-self-employed -------------------------------------------------------------

SKEWED_ENCODER = {"EMP_SELF": "EMP_OTHER", "EMP_CONTRACT": "EMP_OTHER"}


def encoder_vocabulary_shifted(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """feature-service 4.2.0 regenerated the vocabulary from the new form enum, which spells
    them self-employed and contract: self_employed and contractor fall back to EMP_OTHER."""
    remap_category("feat_employment_type", SKEWED_ENCODER)(rng, b, rows)


CREDIT_ENCODER = Scenario(
    name="credit-self-employed",
    title="Loans: denials creep up for the self-employed",
    pipeline=CREDIT,
    story=(
        "Wednesday, 19:20 UTC. A broker partner complains that self-employed applicants are being "
        "denied who were approved last week. The denial rate is up by a few points since the "
        "afternoon; the quarterly model refit went out yesterday and the application form "
        "changed its income question today. Find the cause and how many applicants it hit."
    ),
    incident_at=9 * 24 + 15,
    alert_after=4 + 20 / 60,
    metric="denial_rate",
    difficulty="medium",
    default_rows=30_000,
    effects=(
        Effect("world", -5, 1e9, scale_numeric("raw_annual_income", 1.06, decimals=-2)),
        Effect("serving", 0, 7, encoder_vocabulary_shifted),
    ),
    changes=(
        Change(
            -22,
            "model",
            "pd_model",
            "pd-2026.11.0: quarterly refit, coefficients unchanged within rounding (MRM-1187)",
            "credit-risk-ml",
        ),
        Change(
            -5,
            "config",
            "raw_annual_income",
            "Application form v12: income field now 'gross annual income including bonus'",
            "loan-applications",
        ),
        Change(
            0,
            "deploy",
            "f_employment_type",
            "feature-service 4.2.0: encoder vocabularies regenerated from the form enums",
            "ci: credit-features",
        ),
        Change(
            1,
            "deploy",
            "model_server",
            "underwriting-pd: HPA min replicas 4 -> 6",
            "ml-serving-platform",
        ),
        Change(
            7,
            "deploy",
            "f_employment_type",
            "feature-service 4.2.1: vocabulary files pinned to the training artefact",
            "oncall: credit-features",
        ),
    ),  # fmt: skip
    model_versions=((-22, "pd-2026.11.0"),),
    answer=Answer(
        kind="broken_edge",
        node="f_employment_type",
        edge=("raw_employment_type", "f_employment_type"),
        explanation=(
            "Training-serving skew: feature-service 4.2.0 serves employment type with a "
            "regenerated vocabulary that lacks self_employed and contractor, so both fall back "
            "to EMP_OTHER (the unemployed/unknown code), their PD jumps and many more of them "
            "are denied."
        ),
        detection=(
            "shadow_recompute on raw_employment_type -> f_employment_type: the reference CASE "
            "mapping disagrees with the served value on ~23% of incident rows (all "
            "self_employed and contractor rows), 0% in the baseline and after 4.2.1. Raw "
            "employment mix is unchanged (no distribution shift)."
        ),
        decoys=(
            Decoy(
                "pd_model",
                "A model refit the day before; re-scoring with the playbook scorer matches both versions.",
            ),
            Decoy(
                "raw_annual_income",
                "The form change raises stated incomes by 6%; f_log_income, f_dti and f_loan_to_income are recomputed exactly and higher incomes lower PD.",
            ),
            Decoy("model_server", "A replica change an hour in; latency and errors are unchanged."),
        ),  # fmt: skip
        fixed_at=7,
    ),
)

# ---- 5. fraud-peak-errors -----------------------------------------------------------------


def oom_kills(intensity: float, slow_share: float) -> EffectFn:
    """Pods OOM-killed under load: calls fail (status error, NULL score, timeout latency) with
    a probability growing with traffic, and calls routed to restarting pods are slow."""

    def apply(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
        fail = rows & (rng.random(b.n) < intensity * b.load**2)
        slow = rows & (rng.random(b.n) < slow_share * b.load)
        latency = b.num("latency_ms")
        latency = np.where(slow, np.round(latency * rng.uniform(3.0, 8.0, b.n), 1), latency)
        timeout = np.round(250.0 + rng.exponential(20.0, b.n), 1)
        b.cols["latency_ms"] = np.where(fail, timeout, latency)
        b.hidden["error"] = b.hidden["error"] | fail

    return apply


FRAUD_OOM = Scenario(
    name="fraud-peak-errors",
    title="Card fraud: scoring errors and slow authorisations at peak",
    pipeline=FRAUD,
    story=(
        "Saturday, 19:00 UTC. The payments gateway's SRE reports authorisations timing out on "
        "the fraud call and failing open; the fraud error rate is many times its baseline and "
        "p99 latency is far over the 250 ms SLO. A new model version went out this afternoon "
        "and the device-risk vendor shipped a new model. Decide whether the model, its inputs "
        "or its serving is at fault, and stop the bleeding."
    ),
    incident_at=12 * 24 + 15,
    alert_after=4,
    metric="error_rate",
    difficulty="easy",
    default_rows=30_000,
    effects=(
        Effect("world", -6, 1e9, add_points("raw_device_risk", 6, 1.0)),
        Effect("serving", -20, 0, oom_kills(0.002, 0.01)),
        Effect("serving", 0, 7, oom_kills(0.025, 0.12)),
    ),
    changes=(
        Change(
            -20,
            "config",
            "model_server",
            "fraud-scorer: memory limit 6Gi -> 3Gi per pod (cost review FIN-2291)",
            "ml-serving-platform (terraform)",
        ),
        Change(
            -6,
            "data_source",
            "raw_device_risk",
            "ShieldID device model v7 (vendor release)",
            "shieldid (vendor)",
        ),
        Change(
            -3,
            "model",
            "fraud_model",
            "fraud-lr-2026.11.1: re-export with the same coefficients, larger ONNX graph",
            "ci: risk-ml",
        ),
        Change(
            1,
            "deploy",
            "raw_txn_count_24h",
            "velocity job: 24h window state moved to RocksDB",
            "risk-streaming",
        ),
        Change(
            7,
            "config",
            "model_server",
            "fraud-scorer: memory limit back to 6Gi per pod",
            "oncall: ml-serving-platform",
        ),
    ),  # fmt: skip
    model_versions=((-3, "fraud-lr-2026.11.1"),),
    answer=Answer(
        kind="broken_edge",
        node="model_server",
        edge=("model_server", "fraud_model"),
        explanation=(
            "The fraud-scorer pods' memory limit was halved the evening before; under the "
            "Saturday peak they are OOM-killed, calls time out (status = 'error', NULL score, "
            "approved by fail-open) and surviving calls queue behind restarts."
        ),
        detection=(
            "Error rate (status = 'error') rises from ~0.07% to ~7% with load, p99 latency "
            "five times the baseline and far over the 250 ms SLO, concentrated in the evening peak; model_version on "
            "model_server -> fraud_model: where there is a score it matches the re-score for both "
            "versions, the failures are NULL scores. Inputs are fine: shadow recomputes, null "
            "rates and freshness pass. Reverting the limit ends the errors."
        ),
        decoys=(
            Decoy(
                "fraud_model",
                "A new model version three hours before: re-scores match live scores for it; the failures are not version-specific.",
            ),
            Decoy(
                "raw_device_risk",
                "The vendor's v7 raises device risk by a few points (more declines), a real input shift with an exact f_device_risk recompute; it does not cause errors.",
            ),
            Decoy(
                "raw_txn_count_24h",
                "A velocity-job deploy one hour in; f_velocity_24h is recomputed exactly.",
            ),
        ),  # fmt: skip
        fixed_at=7,
    ),
)

# ---- 6. fraud-sunday-night ---------------------------------------------------------------


def geoip_reallocation(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """The geo-IP update re-allocates foreign address blocks seen on cross-border
    transactions to France; which rows are cross-border does not change."""
    ip: Cat = b.cat("raw_ip_country")
    billing: Cat = b.cat("raw_billing_country")
    france = ip.vocab.index("FR")
    foreign = ip.is_("BR") | ip.is_("NG") | ip.is_("IN")
    move = rows & foreign & (ip.codes != billing.codes) & (billing.codes != france)
    ip.codes = np.where(move, france, ip.codes).astype(np.int32)


FRAUD_FALSE_ALARM = Scenario(
    name="fraud-sunday-night",
    title="Card fraud: the decline-rate panel goes wild on Sunday night",
    pipeline=FRAUD,
    story=(
        "Sunday, 21:20 UTC. The decline-rate alert fires: the panel shows the fraud decline "
        "rate at about twice its usual level, after a stretch with no data at all. Nobody "
        "deployed the model this weekend; a geo-IP database update landed this afternoon. "
        "Decide whether cardholders are really being declined, and what to tell the payments "
        "team."
    ),
    incident_at=13 * 24 + 16,
    alert_after=5 + 20 / 60,
    metric="decline_rate",
    difficulty="medium",
    default_rows=30_000,
    effects=(Effect("world", -8, 1e9, geoip_reallocation),),
    metrics_defect=MetricsDefect(gap=(0, 3), skew_from=3, skew_hours=6, copies=2, rate_factor=2.0),
    changes=(
        Change(
            -8,
            "data_source",
            "raw_ip_country",
            "Geo-IP database 2026-11-15 build (quarterly re-allocation of address blocks)",
            "device-intel",
        ),
        Change(
            0,
            "deploy",
            "decline_rate",
            "metrics-agent 2.3.0 on the risk hosts (new base image)",
            "observability-platform",
        ),
        Change(
            1,
            "deploy",
            "model_server",
            "fraud-scorer: envoy sidecar 1.31 -> 1.32",
            "ml-serving-platform",
        ),
    ),  # fmt: skip
    answer=Answer(
        kind="false_alarm",
        node="decline_rate",
        edge=("decline_decision", "decline_rate"),
        explanation=(
            "Nothing is wrong with the model or its decisions. The metrics-agent 2.3.0 rollout "
            "crash-looped for three hours (no metric rows), then came back with its clock six "
            "hours ahead, sending every row twice and counting declines twice: the panel shows a "
            "gap, future-dated duplicated points and a doubled decline rate."
        ),
        detection=(
            "Triage: the fraud_decline_rate series has a gap longer than max_gap from the agent "
            "deploy, rows dated hours after the alert and after the last decision (clock skew), "
            "and duplicated (ts, metric) rows; the decline rate recomputed from decisions per "
            "bucket is flat and disagrees with the reported values."
        ),
        decoys=(
            Decoy(
                "raw_ip_country",
                "The geo-IP update re-allocates foreign address blocks on cross-border transactions: a small distribution shift under psi_threshold, f_geo_mismatch unchanged.",
            ),
            Decoy(
                "model_server", "A sidecar upgrade an hour in; latency and errors are unchanged."
            ),
        ),  # fmt: skip
    ),
)

# ---- 7. recs-saturday-evening -------------------------------------------------------------


def cup_final(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """The final: half of the users spend the evening on sports, sessions rise, and people
    click sports items a little more and everything else much less."""
    fans = rows & (rng.random(b.n) < 0.5)
    sports = GENRES.index("sports")
    top: Cat = b.cat("raw_user_top_genre")
    top.codes = np.where(fans, sports, top.codes).astype(np.int32)
    follow = fans & (rng.random(b.n) < 0.2)  # candidate retrieval follows the user's top genre
    genre = np.where(follow, sports, b.hidden["genre"]).astype(np.int32)
    b.hidden["genre"] = genre
    b.cat("raw_item_genre").codes = raw_genre_codes(
        b.hidden["provider"], genre, np.zeros(b.n, bool)
    )
    sessions = b.num("raw_user_sessions_7d")
    b.cols["raw_user_sessions_7d"] = np.where(fans, np.round(sessions * 1.3), sessions).astype(
        sessions.dtype
    )
    shift = np.where(genre == sports, 0.3, -0.9)
    b.hidden["taste_shift"] = np.where(rows, shift, 0.0)


RECS_EXTERNAL = Scenario(
    name="recs-saturday-evening",
    title="Home feed: click-through drops on a Saturday evening",
    pipeline=RECS,
    story=(
        "Saturday, 21:00 UTC. Click-through on the home feed has been falling since the early "
        "evening and the feed-ranking alert fired. A ranker deploy went out an hour before it "
        "started; the popularity counters moved to a new Kafka cluster yesterday. It is also "
        "the night of the cup final. Find out whether the pipeline is broken and whether "
        "anything should be rolled back."
    ),
    incident_at=12 * 24 + 17,
    alert_after=4,
    metric="ctr",
    difficulty="hard",
    default_rows=36_000,
    effects=(Effect("world", 0, 7, cup_final),),
    changes=(
        Change(
            -26,
            "data_source",
            "raw_item_popularity_24h",
            "popularity counters moved to Kafka cluster eu-2",
            "feed-streaming",
        ),
        Change(
            -1,
            "deploy",
            "ranker_server",
            "feed-ranker 2026.11.3: candidate cache TTL 5 min -> 10 min",
            "feed-ranking",
        ),
        Change(
            2,
            "config",
            "raw_device_type",
            "TV app 5.2 rollout to 50% of devices",
            "client-platform",
        ),
    ),  # fmt: skip
    answer=Answer(
        kind="external_shift",
        node="ext_world_events",
        edge=("ext_world_events", "raw_user_top_genre"),
        explanation=(
            "The cup final: many users' top genre becomes sports and, while the match is on, "
            "people click far less on everything that is not sports. The pipeline computes every "
            "feature correctly; the model meets a world it was not trained for and the CTR "
            "recovers when the evening ends."
        ),
        detection=(
            "Every planned intervention passes (shadow recomputes exact, freshness fine, "
            "re-scores match); raw_user_top_genre shifts strongly towards sports (a distribution "
            "shift with the same categories) with no change event on it or upstream of it, from "
            "the start of the incident until it ends by itself about 7 hours later."
        ),
        decoys=(
            Decoy(
                "ranker_server",
                "A deploy an hour before the drop; latency, errors and re-scores are unchanged.",
            ),
            Decoy(
                "raw_item_popularity_24h",
                "The counters moved cluster the day before; freshness passes.",
            ),
            Decoy(
                "raw_device_type",
                "A TV app rollout two hours in; the device mix is unchanged in the data.",
            ),
        ),  # fmt: skip
        also_accept=("raw_user_top_genre",),
    ),
)

# The claims scenarios are built from the types above, so their module is imported once
# those exist (it imports them from here).

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        RECS_METADATA,
        CREDIT_VENDOR,
        FRAUD_NAN,
        CREDIT_ENCODER,
        FRAUD_OOM,
        FRAUD_FALSE_ALARM,
        RECS_EXTERNAL,
        *CLAIMS_SCENARIOS,
    )
}


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    title: str
    playbook: str  # playbooks/<playbook>.toml
    difficulty: str


def list_scenarios() -> list[ScenarioInfo]:
    """The bundled scenarios, in the order they are numbered in docs/gameday.md."""
    return [
        ScenarioInfo(s.name, s.title, s.pipeline.playbook, s.difficulty) for s in SCENARIOS.values()
    ]


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConsoleError(
            f"no game-day scenario {name!r}; choose one of: {', '.join(SCENARIOS)}"
        ) from None
