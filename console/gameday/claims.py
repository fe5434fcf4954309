"""The simulated motor-insurance claims-triage pipeline behind playbooks/claims.toml.

Each row is a first notice of loss (FNOL) scored by a logistic triage model: `manual_review`
at or above the threshold, `fast_track` (paid without an adjuster) below it. The raw inputs
come from the claimant's channel (app, web, phone), the repair-shop network that writes the
estimate, the vehicle-data vendor, the FNOL vendor and our own fraud-graph job.

Behaviour has a daily cycle besides the traffic cycle: claims reported in the morning were
mostly incurred overnight (longer report delays, more theft and vandalism), evening claims are
parking and collision damage reported within the hour from the app.
"""

from __future__ import annotations

import numpy as np

from console.gameday.batch import Batch, Cat
from console.gameday.pipelines import Pipeline, Serving

CLAIM_TYPES = ["collision", "glass", "parking", "vandalism", "theft", "hail"]
# Daytime mix; at night (22:00-06:00 UTC incurred) theft and vandalism double.
CLAIM_TYPE_DAY_P = np.array([0.36, 0.22, 0.24, 0.09, 0.05, 0.04])
CLAIM_TYPE_NIGHT_P = np.array([0.30, 0.16, 0.18, 0.18, 0.14, 0.04])
# Repair estimate, EUR, lognormal per claim type (median, spread of the log).
ESTIMATE_MEDIAN = np.array([2600.0, 480.0, 900.0, 1100.0, 5200.0, 3400.0])
ESTIMATE_SPREAD = np.array([0.7, 0.3, 0.55, 0.65, 0.8, 0.5])
PARTNERS = ["autofix", "bodyworks_direct", "glassline", "independent"]
# Windscreens go to the glass network; body damage to the body-shop networks.
PARTNER_P_GLASS = [0.08, 0.04, 0.8, 0.08]
PARTNER_P_BODY = [0.38, 0.3, 0.02, 0.3]
CLIENTS = ["ios-7.4", "android-8.1", "web-3.9", "phone"]
CLIENT_P = [0.34, 0.3, 0.2, 0.16]
# Photos attached: app users photograph the damage; phone claims rarely send any.
CLIENT_PHOTOS = np.array([5.0, 4.5, 2.5, 0.3])
REGIONS = ["north", "south", "east", "west", "capital"]
REGION_P = [0.18, 0.22, 0.17, 0.18, 0.25]

# The book value the playbook's [expressions] vehicle_value_eur computes: a new car at
# 32,000 EUR losing 15% a year, floored at 1,500 EUR (a wreck still has a scrap value).
NEW_VEHICLE_EUR = 32_000.0
YEARLY_DEPRECIATION = 0.85
MIN_VEHICLE_EUR = 1_500.0
MAX_DELAY_H = 2160.0  # the feature caps the report delay at 90 days
NEW_POLICY_DAYS = 60


def incurred_at_night(hour_of_day: np.ndarray, delay_h: np.ndarray) -> np.ndarray:
    """Whether the loss happened between 22:00 and 06:00 UTC, from the report time and delay."""
    incurred = (hour_of_day - delay_h) % 24.0
    return np.asarray((incurred >= 22.0) | (incurred < 6.0))


def vehicle_value(age_years: np.ndarray) -> np.ndarray:
    """The playbook's vehicle_value_eur expression."""
    depreciated = NEW_VEHICLE_EUR * np.power(YEARLY_DEPRECIATION, np.minimum(age_years, 30))
    return np.asarray(np.maximum(depreciated, MIN_VEHICLE_EUR))


def new_policy(days: np.ndarray) -> np.ndarray:
    return np.where(days < NEW_POLICY_DAYS, 1.0, 0.0)


def sample_estimates(rng: np.random.Generator, claim_type: np.ndarray) -> np.ndarray:
    """Repair estimates in whole euros, lognormal around each claim type's median."""
    noise = rng.standard_normal(len(claim_type))
    log = np.log(ESTIMATE_MEDIAN[claim_type]) + ESTIMATE_SPREAD[claim_type] * noise
    return np.asarray(np.round(np.clip(np.exp(log), 60.0, 90_000.0)))


class ClaimsPipeline(Pipeline):
    def sample(self, rng: np.random.Generator, b: Batch) -> None:
        n = b.n
        hod = b.hour_of_day
        # Morning reports (05:00-11:00) are often losses discovered on the way to work.
        morning = (hod >= 5.0) & (hod < 11.0)
        evening = (hod >= 17.0) & (hod < 23.0)
        log_delay = np.where(morning, 2.6, np.where(evening, 1.2, 2.0))
        delay = np.round(np.clip(np.exp(log_delay + 1.1 * rng.standard_normal(n)), 0.1, 4000), 1)
        night = incurred_at_night(hod, delay)
        ring = rng.random(n) < np.where(night, 0.045, 0.02)  # organised fraud, hidden
        p = np.where(night[:, None], CLAIM_TYPE_NIGHT_P, CLAIM_TYPE_DAY_P)
        claim_type = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).astype(np.int32)
        claim_type = np.minimum(claim_type, len(CLAIM_TYPES) - 1)
        glass = claim_type == CLAIM_TYPES.index("glass")
        partner = np.where(
            glass,
            rng.choice(len(PARTNERS), size=n, p=PARTNER_P_GLASS),
            rng.choice(len(PARTNERS), size=n, p=PARTNER_P_BODY),
        ).astype(np.int32)
        client = rng.choice(len(CLIENTS), size=n, p=CLIENT_P).astype(np.int32)
        age = np.clip(np.round(rng.gamma(2.2, 3.3, n)), 0, 35).astype(np.int64)
        # The inspection record keeps the odometer to the nearest 100 km.
        mileage = (
            np.round(
                np.maximum(age, 0.3) * 130 * np.exp(0.35 * rng.standard_normal(n))
                + rng.uniform(0, 40, n)
            ).astype(np.int64)
            * 100
        )
        new = rng.random(n) < np.where(ring, 0.45, 0.09)
        policy_days = np.where(
            new,
            rng.integers(0, NEW_POLICY_DAYS, n),
            np.clip(np.round(np.exp(7.0 + 0.8 * rng.standard_normal(n))), NEW_POLICY_DAYS, 20_000),
        ).astype(np.int64)
        ring_score = np.where(ring, rng.beta(6, 3, n), rng.beta(1.2, 14, n))
        b.hidden["ring"] = ring
        b.cols.update(
            raw_policy_id=rng.integers(0, 50_000_000, n),
            raw_claim_type=Cat(claim_type, list(CLAIM_TYPES)),
            raw_repair_estimate_eur=sample_estimates(rng, claim_type),
            raw_vehicle_age_years=age,
            raw_vehicle_mileage_km=mileage,
            raw_policy_age_days=policy_days,
            raw_photo_count=rng.poisson(CLIENT_PHOTOS[client] + 1.0 * (partner != 3)),
            raw_prior_claims_3y=rng.poisson(np.where(ring, 1.4, 0.3)),
            raw_fraud_ring_score=np.round(ring_score, 3),
            raw_report_delay_hours=delay,
            seg_partner=Cat(partner, list(PARTNERS)),
            seg_client_version=Cat(client, list(CLIENTS)),
            seg_region=Cat.choice(rng, REGIONS, n, REGION_P),
        )

    def features(self, b: Batch) -> None:
        c = b.cols
        estimate = np.maximum(b.num("raw_repair_estimate_eur"), 0.0)
        c["feat_log_estimate"] = np.log(1.0 + estimate)
        c["feat_estimate_to_value"] = estimate / vehicle_value(b.num("raw_vehicle_age_years"))
        mileage = np.maximum(b.num("raw_vehicle_mileage_km"), 0)
        c["feat_mileage"] = np.minimum(mileage, 500_000) / 100_000.0
        c["feat_new_policy"] = new_policy(b.num("raw_policy_age_days"))
        c["feat_photos"] = np.minimum(np.maximum(b.num("raw_photo_count"), 0), 12).astype(
            np.float64
        )
        c["feat_prior_claims"] = np.minimum(b.num("raw_prior_claims_3y"), 5).astype(np.float64)
        c["feat_claim_type"] = b.cat("raw_claim_type").mapped(
            func=lambda v: v if v in CLAIM_TYPES else "other"
        )
        c["feat_fraud_ring"] = b.num("raw_fraud_ring_score").astype(np.float64)
        delay = np.minimum(np.maximum(b.num("raw_report_delay_hours"), 0.0), MAX_DELAY_H)
        c["feat_late_report"] = np.log(1.0 + delay)


CLAIMS = ClaimsPipeline(
    playbook="claims",
    id_prefix="clm",
    model_version="triage-lr-2026.10.2",
    serving=Serving(median_ms=55.0, spread=0.3, error_rate=0.0005),
    rate_series="claims_manual_review_rate",
    error_series="claims_error_rate",
    latency_series="claims_latency_p99_ms",
    weekend=0.8,
    tokens=(("raw_policy_id", "POL", 8),),
)
