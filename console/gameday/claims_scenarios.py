"""Six game-day scenarios on the motor-claims triage model (playbooks/claims.toml).

Each one is a page an on-call engineer could get, with the noise, the daily cycle and the
change log of a real week: innocent deploys on the hour, a decoy that really moves, and a
root cause that the change log alone does not give away.

  a. claims-wednesday-queue      ClaimLine sends the report delay in seconds; nothing logged
  b. claims-frosty-morning   one app client sends "count unknown" for photos; others fine
  c. claims-morning-queue  a claims-graph deploy at 19:00 links ever more claims overnight
  d. claims-friday-creep a tenth of the estimates (supplements) arrive in cents
  e. claims-saturday-jump       a real hail storm; an innocent deploy on the estimates
  f. claims-release-morning         a visible odometer bug that flips nothing, and the one that does

Registered in console/gameday/scenarios.py (SCENARIOS); the shapes come from
console/gameday/scenario_types.py.
"""

from __future__ import annotations

import numpy as np

from console.gameday.answers import Decoy
from console.gameday.batch import Batch, Cat
from console.gameday.claims import (
    CLAIM_TYPES,
    CLAIMS,
    NEW_POLICY_DAYS,
    PARTNER_P_BODY,
    PARTNER_P_GLASS,
    PARTNERS,
    new_policy,
    sample_estimates,
)
from console.gameday.scenario_types import Answer, Change, Effect, EffectFn, Scenario

DAY = 24

# ---- effects shared by several scenarios: things that really happen in a claims week -----


def more_of_claim_type(claim_type: str, share: float) -> EffectFn:
    """A campaign or a season: `share` of the claims become `claim_type`, with the estimates
    and workshops such claims have (the world changes; every edge still holds)."""

    def apply(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
        pick = rows & (rng.random(b.n) < share)
        code = CLAIM_TYPES.index(claim_type)
        col = b.cat("raw_claim_type")
        col.codes = np.where(pick, code, col.codes).astype(np.int32)
        fresh = sample_estimates(rng, np.full(b.n, code))
        est = b.num("raw_repair_estimate_eur")
        b.cols["raw_repair_estimate_eur"] = np.where(pick, fresh, est)
        # The claim goes to the network that repairs that kind of damage.
        glass = claim_type == "glass"
        partner = b.cat("seg_partner")
        p = PARTNER_P_GLASS if glass else PARTNER_P_BODY
        network = rng.choice(len(PARTNERS), size=b.n, p=p).astype(np.int32)
        partner.codes = np.where(pick, network, partner.codes).astype(np.int32)

    return apply


def guided_photo_capture(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """iOS 7.5 walks the claimant round the car: about two more photos per iOS claim."""
    # A staged rollout: about 60% of iOS claimants have updated.
    ios = rows & b.cat("seg_client_version").is_("ios-7.4") & (rng.random(b.n) < 0.6)
    photos = b.num("raw_photo_count")
    b.cols["raw_photo_count"] = np.where(ios, photos + rng.poisson(2.0, b.n), photos)
    version = b.cat("seg_client_version")
    vocab = [*version.vocab, "ios-7.5"] if "ios-7.5" not in version.vocab else version.vocab
    codes = np.where(ios, vocab.index("ios-7.5"), version.codes).astype(np.int32)
    b.cols["seg_client_version"] = Cat(codes, vocab)


def more_new_policies(share: float) -> EffectFn:
    """A new-business campaign: more claims come from policies incepted in the last weeks."""

    def apply(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
        pick = rows & (rng.random(b.n) < share)
        days = b.num("raw_policy_age_days")
        fresh = rng.integers(5, NEW_POLICY_DAYS, b.n)
        b.cols["raw_policy_age_days"] = np.where(pick, fresh, days).astype(days.dtype)

    return apply


# ---- a. claims-wednesday-queue ----------------------------------------------------------------


def delay_in_seconds(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """ClaimLine's API v3 rollout: time_to_report is sent in seconds; our ingest still stores
    it as hours. Nobody on either side logged it."""
    delay = b.num("raw_report_delay_hours")
    b.cols["raw_report_delay_hours"] = np.where(rows, np.round(delay * 3600.0, 1), delay)


CLAIMS_DELAY_UNITS = Scenario(
    name="claims-wednesday-queue",
    title="Claims: the review queue fills up on a Wednesday afternoon",
    pipeline=CLAIMS,
    story=(
        "Wednesday, 16:15 UTC. The claims operations duty manager pages #claims-ml-oncall: "
        "the manual-review queue has grown all afternoon and adjusters are being pulled off "
        "open files to keep up. Glassline started a windscreen campaign this morning, the "
        "iOS app 7.5 went out before lunch and the platform team moved the triage pods to a "
        "new node pool after lunch. No one on the claims-ml side changed anything this week. "
        "Find out why more claims go to review and whether anything must be rolled back."
    ),
    incident_at=9 * DAY + 12,
    alert_after=4.25,
    metric="manual_review_rate",
    difficulty="medium",
    default_rows=28_000,
    effects=(
        Effect("ingest", 0, 7, delay_in_seconds),
        Effect("world", -5, 1e9, more_of_claim_type("glass", 0.08)),
        Effect("world", -3, 1e9, guided_photo_capture),
    ),
    changes=(
        Change(
            -5,
            "config",
            "raw_claim_type",
            "Glassline campaign: free windscreen chip repair for policy holders (email + app banner)",
            "claims-supply-chain",
        ),
        Change(
            -3,
            "deploy",
            "raw_photo_count",
            "claims app iOS 7.5: guided photo capture (walk-round of the vehicle)",
            "claims-mobile",
        ),
        Change(
            1.5,
            "deploy",
            "model_server",
            "claims-triage pods moved to the m7 node pool",
            "ml-serving-platform",
        ),
        Change(
            7,
            "config",
            "raw_report_delay_hours",
            "fnol-ingest pins the ClaimLine API to v2 (header Api-Version: 2)",
            "oncall: claims-ml",
        ),
    ),  # fmt: skip
    answer=Answer(
        kind="broken_edge",
        node="raw_report_delay_hours",
        edge=("raw_report_delay_hours", "f_late_report"),
        explanation=(
            "ClaimLine moved its claim API to v3, which sends time_to_report in seconds instead "
            "of hours, without a notice on either side. fnol-ingest stores the number as hours, "
            "so a claim reported after 20 minutes looks 1,200 hours late; the late-report feature "
            "hits its 90-day cap for almost every claim and pushes the claims into review."
        ),
        detection=(
            "range on raw_report_delay_hours -> f_late_report: the median delay jumps from about "
            "7 h to about 25,000 h (x3600, the seconds-to-hours factor) and ~85% of the values "
            "exceed the declared 8,760 h maximum, in every channel and network at once; no change event names "
            "the delay or ClaimLine. The shadow recompute passes (the feature computes what it is "
            "given). Pinning API v2 at the fix restores the delays and the queue."
        ),
        decoys=(
            Decoy(
                "raw_claim_type",
                "Glassline's windscreen campaign really adds glass claims (logged); glass claims are fast-tracked, so it lowers the review rate.",
            ),
            Decoy(
                "raw_photo_count",
                "iOS 7.5 really adds about two photos per iOS claim (logged); more photos lower the score.",
            ),
            Decoy(
                "model_server",
                "A node-pool move inside the incident; latency, errors and re-scores are unchanged.",
            ),
        ),  # fmt: skip
        fixed_at=7,
    ),
)

# ---- b. claims-frosty-morning -------------------------------------------------------------


def android_photo_count_unknown(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """A remote-config flag turns on background photo upload for Android 8.1: the claim is
    submitted before the upload finishes, with photo_count = -1 ("not known yet"), and the
    count is never updated on the claim the model scored."""
    android = rows & b.cat("seg_client_version").is_("android-8.1")
    photos = b.num("raw_photo_count")
    b.cols["raw_photo_count"] = np.where(android, -1, photos).astype(photos.dtype)


def frost_morning(share: float) -> EffectFn:
    """Black ice on the morning commute: more front-end collisions, everywhere."""
    return more_of_claim_type("collision", share)


CLAIMS_ANDROID_PHOTOS = Scenario(
    name="claims-frosty-morning",
    title="Claims: more claims go to adjusters on a frosty Thursday morning",
    pipeline=CLAIMS,
    story=(
        "Thursday, 12:30 UTC. Claims operations report that the share of claims sent to "
        "adjusters has been climbing since breakfast. It was the first frosty morning of the "
        "season and the collision line was busy; the iOS app 7.5 with the new photo flow "
        "rolled out at dawn; estimate-ingest was deployed during the morning. The adjusters "
        "say many of the claims they get look routine. Decide whether the model is reacting "
        "to the weather or whether something in the pipeline is wrong, and what to do."
    ),
    incident_at=10 * DAY + 8,
    alert_after=4.5,
    metric="manual_review_rate",
    difficulty="hard",
    default_rows=28_000,
    effects=(
        Effect("ingest", 0, 6, android_photo_count_unknown),
        Effect("world", -2, 1e9, guided_photo_capture),
        Effect("world", -3, 3, frost_morning(0.12)),
    ),
    changes=(
        Change(
            -3.5,
            "data_source",
            "ext_weather",
            "Met service: ground frost and black ice warning for the morning commute",
            "claims-operations (catastrophe desk)",
        ),
        Change(
            -2,
            "deploy",
            "raw_photo_count",
            "claims app iOS 7.5: guided photo capture (walk-round of the vehicle)",
            "claims-mobile",
        ),
        Change(
            1,
            "deploy",
            "raw_repair_estimate_eur",
            "estimate-ingest 3.4.0: structured logging, connection pool 10 -> 20",
            "claims-supply-chain",
        ),
        Change(
            6,
            "config",
            "raw_photo_count",
            "mobile remote config: photo_upload_v2 switched off for Android",
            "oncall: claims-mobile",
        ),
    ),  # fmt: skip
    answer=Answer(
        kind="broken_edge",
        node="raw_photo_count",
        edge=("raw_photo_count", "f_photos"),
        explanation=(
            "A remote-config flag (not in the change log) enabled background photo upload on "
            "Android 8.1: claims are submitted before their photos finish uploading and carry "
            "photo_count = -1, the 'not known yet' sentinel. The feature serves it as zero "
            "photos, which raises the score of every Android claim; iOS, web and phone claims "
            "are untouched."
        ),
        detection=(
            "default_rate on raw_photo_count -> f_photos: the share of -1 goes from 0 to about 30% "
            "of claims, all of them from seg_client_version = 'android-8.1' (100% of its claims), "
            "while every other client's photo counts are unmoved or higher (iOS 7.5). range also "
            "flags -1 below valid_min. Switching the flag off at the fix restores the counts."
        ),
        decoys=(
            Decoy(
                "raw_photo_count",
                "The logged iOS 7.5 release on the same input is innocent: it adds photos to iOS claims, which lowers their scores.",
            ),
            Decoy(
                "ext_weather",
                "The frost really adds collision claims for the morning (logged), across every channel; it moves the review rate by a point or two and fades by noon.",
            ),
            Decoy(
                "raw_repair_estimate_eur",
                "estimate-ingest was deployed an hour in; the estimates and their features are unchanged.",
            ),
        ),  # fmt: skip
        fixed_at=6,
    ),
)

# ---- c. claims-morning-queue ------------------------------------------------------------

GRAPH_DEPLOY_HOUR = 8 * DAY + 19  # Tuesday 19:00 UTC
GRAPH_INCIDENT_HOUR = 9 * DAY + 6  # Wednesday 06:00 UTC: the incident window's start
GRAPH_BUILD_HOURS = 14.0  # the nightly batches link more claims until the graph saturates


def graph_links_by_street(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """claims-graph 2.14's address normaliser drops house numbers: claims on the same street
    become 'linked'. Each nightly batch adds links, so the share of honest claims with an
    inflated ring score grows from the deploy until the graph saturates."""
    built = np.clip((b.hour - GRAPH_DEPLOY_HOUR) / GRAPH_BUILD_HOURS, 0.0, 1.0)
    pick = rows & (rng.random(b.n) < 0.4 * built)
    score = b.num("raw_fraud_ring_score")
    inflated = np.round(np.maximum(score, rng.beta(6, 3, b.n)), 3)
    b.cols["raw_fraud_ring_score"] = np.where(pick, inflated, score)


CLAIMS_GRAPH_OVERNIGHT = Scenario(
    name="claims-morning-queue",
    title="Claims: the morning review queue is far longer than usual",
    pipeline=CLAIMS,
    story=(
        "Wednesday, 10:00 UTC. The adjusters' morning stand-up finds the review queue far "
        "longer than on any other morning; the special investigations unit says it has had "
        "more ring alerts than usual and suspects an organised ring is back. There was black "
        "ice on the roads this morning and the platform team scaled the triage pods at "
        "07:00. Nothing was deployed to the model or the feature service since last week. "
        "Find the cause and decide what to do before the lunchtime peak."
    ),
    incident_at=GRAPH_INCIDENT_HOUR,
    alert_after=4,
    metric="manual_review_rate",
    difficulty="hard",
    default_rows=28_000,
    effects=(
        Effect("ingest", GRAPH_DEPLOY_HOUR - GRAPH_INCIDENT_HOUR, 6, graph_links_by_street),
        Effect("world", 0, 4.5, frost_morning(0.12)),
    ),
    changes=(
        Change(
            GRAPH_DEPLOY_HOUR - GRAPH_INCIDENT_HOUR,
            "deploy",
            "raw_fraud_ring_score",
            "claims-graph 2.14: address normaliser v2 (shared with the CRM dedup service)",
            "claims-fraud-analytics",
        ),
        Change(
            -7,
            "deploy",
            "raw_policy_age_days",
            "policy-admin 8.4: read replica moved to the new cluster",
            "policy-platform",
        ),
        Change(
            -0.5,
            "data_source",
            "ext_weather",
            "Met service: black ice warning for the morning commute (north, east, capital)",
            "claims-operations (catastrophe desk)",
        ),
        Change(
            1,
            "deploy",
            "model_server",
            "claims-triage: HPA min replicas 3 -> 5 for the morning peak",
            "ml-serving-platform",
        ),
        Change(
            6,
            "deploy",
            "raw_fraud_ring_score",
            "claims-graph rolled back to 2.13; links since Tuesday 19:00 rebuilt",
            "oncall: claims-fraud-analytics",
        ),
    ),  # fmt: skip
    answer=Answer(
        kind="broken_edge",
        node="raw_fraud_ring_score",
        edge=("raw_fraud_ring_score", "f_fraud_ring"),
        explanation=(
            "claims-graph 2.14, deployed at 19:00 the evening before, normalises addresses "
            "without house numbers, so claims from neighbours on the same street are linked as "
            "a ring. Every nightly batch adds links: the share of honest claims with a high ring "
            "score grows from the deploy and is at its worst when morning traffic arrives; the "
            "ring score is the model's strongest input."
        ),
        detection=(
            "distribution_shift on raw_fraud_ring_score -> f_fraud_ring: the share of claims "
            "scoring above 0.5 rises from about 2-3% to about 30%, starting at the 19:00 deploy "
            "and growing through the night (hour by hour, not at the incident start); the "
            "'linked' claims are spread over every network, channel and region and lack the other "
            "ring markers (new policies, prior claims), unlike real ring claims. The rollback at "
            "the fix restores the scores."
        ),
        decoys=(
            Decoy(
                "ext_weather",
                "The black ice really adds collision claims in the morning (logged), in every region; collisions are not scored higher, and it cannot explain a rise that began at 19:00.",
            ),
            Decoy(
                "model_server",
                "The pods were scaled inside the incident window; latency, errors and re-scores are unchanged.",
            ),
            Decoy(
                "raw_policy_age_days",
                "A read-replica move in the night; policy ages and the new-policy feature are unchanged.",
            ),
        ),  # fmt: skip
        fixed_at=6,
    ),
)

# ---- d. claims-friday-creep -----------------------------------------------------------

BODY_DAMAGE = [CLAIM_TYPES.index(t) for t in ("collision", "vandalism", "theft", "hail")]


def supplements_in_cents(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """estimate-ingest 3.2.0 accepts the networks' ES-v4 supplement messages (the revised
    estimate after a workshop strips the damaged part) and reads their amount_minor field,
    in cents, as EUR. About one body-damage claim in seven gets a supplement before triage."""
    body = np.isin(b.cat("raw_claim_type").codes, BODY_DAMAGE)
    pick = rows & body & (rng.random(b.n) < 0.15)
    est = b.num("raw_repair_estimate_eur")
    revised = np.round(est * rng.uniform(1.05, 1.3, b.n))  # supplements add work found
    b.cols["raw_repair_estimate_eur"] = np.where(pick, revised * 100.0, est)


CLAIMS_SUPPLEMENT_CENTS = Scenario(
    name="claims-friday-creep",
    title="Claims: review rate creeps up on a Friday afternoon",
    pipeline=CLAIMS,
    story=(
        "Friday, 17:15 UTC. The triage dashboard shows the manual-review rate a third above "
        "its usual Friday level since lunchtime. Pricing's new-business campaign has been "
        "bringing in young policies since Thursday, a re-export of the triage model went out "
        "yesterday, and claims-supply-chain deployed estimate-ingest at lunchtime. Most claims "
        "look normal when adjusters open them. Decide whether this is the new customers or a "
        "fault, and prove it."
    ),
    incident_at=11 * DAY + 13,
    alert_after=4.25,
    metric="manual_review_rate",
    difficulty="hard",
    default_rows=28_000,
    effects=(
        Effect("ingest", 0, 7, supplements_in_cents),
        Effect("world", -20, 1e9, more_new_policies(0.04)),
    ),
    changes=(
        Change(
            -26,
            "model",
            "triage_model",
            "triage-lr-2026.11.0: re-export of the same coefficients (ONNX opset 18)",
            "ci: claims-ml",
        ),
        Change(
            -20,
            "config",
            "raw_policy_age_days",
            "New-business campaign 'Drive Winter' live on comparison sites",
            "motor-pricing",
        ),
        Change(
            -0.5,
            "deploy",
            "raw_repair_estimate_eur",
            "estimate-ingest 3.2.0: accept ES-v4 supplement messages from the networks",
            "claims-supply-chain",
        ),
        Change(
            1,
            "deploy",
            "raw_fraud_ring_score",
            "claims-graph 2.13.2: index rebuild, no scoring change",
            "claims-fraud-analytics",
        ),
        Change(
            7,
            "deploy",
            "raw_repair_estimate_eur",
            "estimate-ingest 3.2.1: ES-v4 amounts converted from minor units",
            "oncall: claims-supply-chain",
        ),
    ),  # fmt: skip
    model_versions=((-26, "triage-lr-2026.11.0"),),
    answer=Answer(
        kind="broken_edge",
        node="raw_repair_estimate_eur",
        edge=("raw_repair_estimate_eur", "f_log_estimate"),
        explanation=(
            "estimate-ingest 3.2.0 reads the amount of the networks' new supplement messages "
            "from amount_minor (cents) as EUR: about a tenth of the claims, from every network, "
            "carry an estimate 100 times too large. Those claims look like total losses "
            "(estimate far above the vehicle's value) and all go to review; the other nine "
            "tenths are untouched."
        ),
        detection=(
            "range on raw_repair_estimate_eur -> f_log_estimate: about 8% of incident estimates "
            "exceed the 100,000 EUR maximum (0 in the baseline), and the shifted rows sit a factor "
            "of ~100 above the rest; the mean estimate jumps more than tenfold while the median "
            "barely moves, so a rank test alone is diluted by the nine tenths of normal rows. Every "
            "network is affected in proportion. The fix converts the amounts."
        ),
        decoys=(
            Decoy(
                "raw_policy_age_days",
                "The campaign really brings more claims from young policies (logged, from the day before); the new-policy feature recomputes exactly and adds about a point to the review rate.",
            ),
            Decoy(
                "triage_model",
                "A model re-export the day before; re-scoring with the playbook scorer matches both versions.",
            ),
            Decoy(
                "raw_fraud_ring_score",
                "An index rebuild an hour in; the ring scores are unchanged.",
            ),
        ),  # fmt: skip
        fixed_at=7,
    ),
)

# ---- e. claims-saturday-jump -----------------------------------------------------------------

HAIL = CLAIM_TYPES.index("hail")
# How hard the storm front hits each region (the data's seg_region order).
HAIL_BY_REGION = np.array([0.5, 1.0, 0.6, 0.7, 0.9])
STORM_HOURS = 9.0
HAIL_START_HOUR = 12 * DAY + 13  # Saturday 13:00 UTC


def hail_storm(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """A hail front crosses the country in the afternoon: a wave of hail claims, reported
    within hours, with whole panels dented (costly repairs, often near an older car's value)
    and only a couple of quick photos, sent to every body network and from every channel.
    It builds for two hours and fades over the evening."""
    since = b.hour - HAIL_START_HOUR
    wave = np.clip(since / 2.0, 0.0, 1.0) * np.clip((STORM_HOURS - since) / 5.0, 0.0, 1.0)
    region = HAIL_BY_REGION[b.cat("seg_region").codes]
    pick = rows & (rng.random(b.n) < 0.5 * wave * region)
    col = b.cat("raw_claim_type")
    col.codes = np.where(pick, HAIL, col.codes).astype(np.int32)
    dents = np.round(np.exp(np.log(6500.0) + 0.5 * rng.standard_normal(b.n)))
    est = b.num("raw_repair_estimate_eur")
    b.cols["raw_repair_estimate_eur"] = np.where(pick, dents, est)
    # Filed from the car park: a couple of quick photos, the workshop's come days later.
    photos = b.num("raw_photo_count")
    b.cols["raw_photo_count"] = np.where(pick, rng.poisson(1.5, b.n), photos)
    delay = b.num("raw_report_delay_hours")
    quick = np.round(np.clip(np.maximum(since, 0.1) * rng.uniform(0.2, 1.0, b.n), 0.1, None), 1)
    b.cols["raw_report_delay_hours"] = np.where(pick, quick, delay)
    partner = b.cat("seg_partner")
    body = rng.choice(len(PARTNERS), size=b.n, p=PARTNER_P_BODY).astype(np.int32)
    partner.codes = np.where(pick, body, partner.codes).astype(np.int32)


CLAIMS_HAIL_STORM = Scenario(
    name="claims-saturday-jump",
    title="Claims: review rate and volume jump on a Saturday afternoon",
    pipeline=CLAIMS,
    story=(
        "Saturday, 17:30 UTC. The weekend duty adjuster escalates: the manual-review rate has "
        "been climbing for four hours and the weekend team cannot keep up. estimate-ingest "
        "was redeployed at 14:00 (a retry-policy change), the iOS 7.5 app went out on "
        "Thursday, and thunderstorms were forecast for the afternoon. Claims operations ask "
        "whether to roll back estimate-ingest and whether the model can be trusted tonight."
    ),
    incident_at=HAIL_START_HOUR,
    alert_after=4.5,
    metric="manual_review_rate",
    difficulty="hard",
    default_rows=28_000,
    effects=(
        Effect("world", 0, STORM_HOURS, hail_storm),
        Effect("world", -50, 1e9, guided_photo_capture),
    ),
    changes=(
        Change(
            -50,
            "deploy",
            "raw_photo_count",
            "claims app iOS 7.5: guided photo capture (walk-round of the vehicle)",
            "claims-mobile",
        ),
        Change(
            -22,
            "config",
            "raw_vehicle_mileage_km",
            "MotorRecord: nightly odometer sync moved to 02:00",
            "claims-data-partnerships",
        ),
        Change(
            1,
            "deploy",
            "raw_repair_estimate_eur",
            "estimate-ingest 3.4.1: retry budget 3 -> 5 on network timeouts",
            "claims-supply-chain",
        ),
    ),  # fmt: skip
    answer=Answer(
        kind="external_shift",
        node="ext_weather",
        edge=("ext_weather", "raw_claim_type"),
        explanation=(
            "A hail front crossed the country on Saturday afternoon. Hail claims went from a few "
            "percent of the flow to over a third, with costly estimates (whole panels dented, "
            "often more than an older car is worth) and short report delays; the model sends "
            "near-total-loss estimates to review, as designed. Every feature is computed "
            "correctly and the storm's claims fade over the evening."
        ),
        detection=(
            "The claim mix moves to hail (same categories, PSI far above 0.2) together with the "
            "estimates, photo counts and report delays, in every repair network, every client and "
            "every region (most in the south and capital); the values stay plausible (range and "
            "default-rate pass), shadow recomputes are exact, re-scores match. The estimate-ingest "
            "deploy an hour in cannot produce a shift that started before it and that is carried "
            "by the claim type, which it does not touch."
        ),
        decoys=(
            Decoy(
                "raw_repair_estimate_eur",
                "Estimates really rise and estimate-ingest was deployed an hour into the storm, but only the retry policy changed: estimates of non-hail claims are unmoved, the rise is carried by hail claims, and it began before the deploy.",
            ),
            Decoy(
                "raw_photo_count",
                "iOS 7.5 adds photos to iOS claims since Thursday (logged, two days before the storm); more photos lower scores.",
            ),
            Decoy(
                "raw_vehicle_mileage_km",
                "An odometer sync schedule change the night before; the readings are unchanged.",
            ),
        ),  # fmt: skip
        also_accept=("raw_claim_type", "raw_repair_estimate_eur"),
    ),
)

# ---- f. claims-release-morning -------------------------------------------------------------------


def odometer_missing(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """vehicle-data connector 4.0 calls MotorRecord's odometer endpoint v2, which has no
    reading for vehicles last inspected before its migration: those come back as 0."""
    pick = rows & (rng.random(b.n) < 0.45)
    km = b.num("raw_vehicle_mileage_km")
    b.cols["raw_vehicle_mileage_km"] = np.where(pick, 0, km).astype(km.dtype)


def policy_age_from_renewal(rng: np.random.Generator, b: Batch, rows: np.ndarray) -> None:
    """feature-service 5.3.0 reads the policy's start from the policy_terms table: the start
    of the current (annual) term, not the inception. A policy renewed in the last 60 days is
    served as new; raw_policy_age_days, from policy-admin, is still right."""
    days = b.num("raw_policy_age_days")
    since_term = np.where(days >= 365, days % 365, days)
    served = b.num("feat_new_policy")
    b.cols["feat_new_policy"] = np.where(rows, new_policy(since_term), served)


CLAIMS_TWO_BUGS = Scenario(
    name="claims-release-morning",
    title="Claims: review rate up after a morning of releases",
    pipeline=CLAIMS,
    story=(
        "Tuesday, 14:15 UTC. The manual-review rate has been above its band since mid-morning "
        "and claims operations want to know what to roll back. The morning was busy: the "
        "vehicle-data connector moved to MotorRecord's new API at 08:00, the feature service "
        "shipped a release at 10:00 and Glassline's windscreen campaign started at 04:00. A "
        "colleague already spotted that odometer readings look broken and proposes rolling "
        "back the connector. Decide what actually drives the review rate before anything is "
        "rolled back."
    ),
    incident_at=8 * DAY + 10,
    alert_after=4.25,
    metric="manual_review_rate",
    difficulty="hard",
    default_rows=28_000,
    effects=(
        Effect("ingest", -2, 9, odometer_missing),
        Effect("serving", 0, 6, policy_age_from_renewal),
        Effect("world", -6, 1e9, more_of_claim_type("glass", 0.08)),
    ),
    changes=(
        Change(
            -6,
            "config",
            "raw_claim_type",
            "Glassline campaign: free windscreen chip repair for policy holders (email + app banner)",
            "claims-supply-chain",
        ),
        Change(
            -2,
            "deploy",
            "raw_vehicle_mileage_km",
            "vehicle-data connector 4.0: MotorRecord odometer endpoint v2",
            "claims-data-partnerships",
        ),
        Change(
            0,
            "deploy",
            "f_new_policy",
            "feature-service 5.3.0: policy features read from the policy_terms table",
            "claims-features",
        ),
        Change(
            2,
            "deploy",
            "model_server",
            "claims-triage: sidecar proxy 1.21 -> 1.22",
            "ml-serving-platform",
        ),
        Change(
            6,
            "deploy",
            "f_new_policy",
            "feature-service 5.3.1: policy age counted from inception again",
            "oncall: claims-features",
        ),
        Change(
            9,
            "deploy",
            "raw_vehicle_mileage_km",
            "vehicle-data connector 4.0.1: fall back to odometer endpoint v1",
            "claims-data-partnerships",
        ),
    ),  # fmt: skip
    answer=Answer(
        kind="broken_edge",
        node="f_new_policy",
        edge=("raw_policy_age_days", "f_new_policy"),
        explanation=(
            "feature-service 5.3.0 computes the new-policy flag from the start of the current "
            "annual term instead of the policy's inception, so every policy renewed in the last "
            "60 days is served as a brand-new policy, one of the model's strongest review "
            "signals. The odometer bug of the same morning is real but the model barely weighs "
            "mileage; it explains almost none of the rise."
        ),
        detection=(
            "shadow_recompute on raw_policy_age_days -> f_new_policy: about 17% of incident rows "
            "differ from the reference (0 in the baseline) while raw_policy_age_days itself is "
            "unmoved; correcting f_new_policy flips most of the extra reviews back. default_rate "
            "on raw_vehicle_mileage_km also fails (about 45% zeros) but its counterfactual flips "
            "well under 1% of decisions, and in the direction of fewer reviews."
        ),
        decoys=(
            Decoy(
                "raw_vehicle_mileage_km",
                "A real, provable bug (connector 4.0 returns 0 km for ~45% of vehicles from 08:00), but f_mileage weighs 0.08 per 100,000 km: correcting it flips almost no decisions and would lower the review rate, not raise it.",
            ),
            Decoy(
                "raw_claim_type",
                "Glassline's campaign really adds glass claims (logged); they are fast-tracked, which lowers the review rate.",
            ),
            Decoy(
                "model_server",
                "A sidecar upgrade two hours in; latency, errors and re-scores are unchanged.",
            ),
        ),  # fmt: skip
        fixed_at=6,
    ),
)

CLAIMS_SCENARIOS: tuple[Scenario, ...] = (
    CLAIMS_DELAY_UNITS,
    CLAIMS_ANDROID_PHOTOS,
    CLAIMS_GRAPH_OVERNIGHT,
    CLAIMS_SUPPLEMENT_CENTS,
    CLAIMS_HAIL_STORM,
    CLAIMS_TWO_BUGS,
)
