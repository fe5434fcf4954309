"""The three simulated production pipelines behind the playbooks: fraud, credit, recommendations.

Each pipeline draws the raw inputs of a chunk of decisions (`sample`), recomputes the served
features from them exactly as the playbook's `reference` expressions do (`features`), and, for
the recommender, draws the delayed label from the ground truth and the ranking (`outcomes`).
Scenario effects (console/gameday/scenarios.py) act between these steps.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from console.gameday.batch import Batch, Cat, PlaybookScorer
from console.scoring.linear import sigmoid


@dataclass(frozen=True)
class Serving:
    """Baseline serving behaviour: latency (lognormal, grows with load) and rare errors."""

    median_ms: float
    spread: float
    error_rate: float

    def sample(self, rng: np.random.Generator, b: Batch) -> None:
        latency = self.median_ms * np.exp(self.spread * rng.standard_normal(b.n))
        b.cols["latency_ms"] = np.round(latency * (0.85 + 0.15 * b.load), 1)
        b.hidden["error"] = rng.random(b.n) < self.error_rate


@dataclass(frozen=True)
class Pipeline(ABC):
    """What differs between the three models; the generator does the rest."""

    playbook: str  # playbooks/<playbook>.toml
    id_prefix: str
    model_version: str
    serving: Serving
    rate_series: str  # the triage metric's series
    error_series: str
    latency_series: str
    weekend: float = 1.0  # traffic on Saturdays and Sundays relative to weekdays
    # Integer columns written as opaque string ids: (column, prefix, digits).
    tokens: tuple[tuple[str, str, int], ...] = ()

    @abstractmethod
    def sample(self, rng: np.random.Generator, b: Batch) -> None:
        """Draw the raw inputs (and hidden ground truth) of every row of the batch."""

    @abstractmethod
    def features(self, b: Batch) -> None:
        """Compute the feat_* columns from the raw_* ones, as the playbook references do."""

    def truth(self, rng: np.random.Generator, scorer: PlaybookScorer, b: Batch) -> None:
        """Ground truth computed before any ingest or serving defect (default: nothing).

        Fraud and credit have no delayed label here, so the raw inputs are all the truth
        they need; the recommender keeps each candidate's true relevance for its clicks."""
        return None

    def outcomes(self, rng: np.random.Generator, b: Batch) -> None:
        """Labels drawn after the decision (default: none)."""
        return None

    def rate_indicator(self, b: Batch, positive: str) -> np.ndarray:
        """Per row, the value the triage metric averages."""
        return b.cat("decision").is_(positive).astype(np.float64)


def _log1p_sql(x: np.ndarray) -> np.ndarray:
    """ln(1 + x) written the way the playbook's SQL reads it."""
    return np.log(1.0 + x)


def _night(b: Batch) -> np.ndarray:
    return (b.hour_of_day >= 1.0) & (b.hour_of_day < 6.0)


# ---- fraud -------------------------------------------------------------------------------

MERCHANT_CATEGORIES = [
    "GROCERY", "RESTAURANTS", "FUEL", "FASHION", "ELECTRONICS",
    "TRAVEL", "DIGITAL_GOODS", "GAMBLING", "PHARMACY",
]  # fmt: skip
MERCHANT_P = [0.22, 0.17, 0.11, 0.11, 0.07, 0.06, 0.16, 0.04, 0.06]
MERCHANT_LOG_AMOUNT = np.array([3.5, 3.3, 3.9, 4.2, 5.2, 5.8, 2.9, 3.7, 3.2])
ECOMMERCE_SHARE = np.array([0.1, 0.3, 0.05, 0.5, 0.8, 0.9, 1.0, 0.7, 0.2])
COUNTRIES = ["US", "GB", "DE", "FR", "CA", "BR", "NG", "IN"]
COUNTRY_P = [0.5, 0.12, 0.1, 0.08, 0.08, 0.05, 0.03, 0.04]
REGION_OF_COUNTRY = {"US": "NA", "CA": "NA", "GB": "EU", "DE": "EU", "FR": "EU", "BR": "LATAM"}


class FraudPipeline(Pipeline):
    def sample(self, rng: np.random.Generator, b: Batch) -> None:
        n = b.n
        risky = rng.random(n) < np.where(_night(b), 0.05, 0.025)
        category = Cat.choice(rng, MERCHANT_CATEGORIES, n, MERCHANT_P)
        log_amount = MERCHANT_LOG_AMOUNT[category.codes] + 0.8 * rng.standard_normal(n)
        amount = np.round(np.clip(np.exp(log_amount + 0.4 * risky), 0.5, 25_000.0), 2)
        new_card = rng.random(n) < np.where(risky, 0.5, 0.07)
        age = np.where(
            new_card, rng.integers(0, 60, n), np.round(np.exp(6.3 + 0.8 * rng.standard_normal(n)))
        )
        count_1h = rng.poisson(np.where(risky, 3.0, 0.4))
        billing = Cat.choice(rng, COUNTRIES, n, COUNTRY_P)
        same = rng.random(n) < np.where(risky, 0.5, 0.95)
        ip = np.where(same, billing.codes, rng.integers(0, len(COUNTRIES), n)).astype(np.int32)
        ecommerce = rng.random(n) < ECOMMERCE_SHARE[category.codes]
        b.cols.update(
            raw_card_token=rng.integers(0, 60_000, n),
            raw_amount=amount,
            raw_merchant_category=category,
            raw_card_age_days=age.astype(np.float64),
            raw_txn_count_1h=count_1h,
            raw_txn_count_24h=count_1h + rng.poisson(np.where(risky, 6.0, 2.5)),
            raw_device_risk=np.round(
                100 * np.where(risky, rng.beta(6, 4, n), rng.beta(2, 9, n))
            ).astype(np.int64),
            raw_ip_risk=np.round(
                100 * np.where(risky, rng.beta(5, 5, n), rng.beta(2, 12, n))
            ).astype(np.int64),
            raw_ip_risk_age_s=rng.integers(0, 600, n),
            raw_billing_country=billing,
            raw_ip_country=Cat(ip, list(COUNTRIES)),
            seg_channel=Cat(ecommerce.astype(np.int32), ["card_present", "ecommerce"]),
            seg_region=billing.mapped(func=lambda c: REGION_OF_COUNTRY.get(c, "OTHER")),
        )

    def features(self, b: Batch) -> None:
        c = b.cols
        c["feat_log_amount"] = _log1p_sql(b.num("raw_amount"))
        c["feat_merchant_category"] = b.cat("raw_merchant_category").mapped(func=str.lower)
        c["feat_card_age"] = _log1p_sql(b.num("raw_card_age_days"))  # NaN stays NaN (NULL)
        c["feat_velocity_1h"] = np.minimum(b.num("raw_txn_count_1h"), 20).astype(np.float64)
        c["feat_velocity_24h"] = _log1p_sql(b.num("raw_txn_count_24h").astype(np.float64))
        c["feat_device_risk"] = b.num("raw_device_risk") / 100.0
        c["feat_ip_risk"] = b.num("raw_ip_risk") / 100.0
        same = b.cat("raw_billing_country").codes == b.cat("raw_ip_country").codes
        c["feat_geo_mismatch"] = np.where(same, 0.0, 1.0)


# ---- credit ------------------------------------------------------------------------------

EMPLOYMENT = ["salaried", "self_employed", "contractor", "retired", "student", "unemployed"]
EMPLOYMENT_P = [0.58, 0.14, 0.10, 0.08, 0.04, 0.06]
EMPLOYMENT_LOG_INCOME = np.array([11.1, 11.0, 11.0, 10.6, 9.9, 9.6])
P_VERIFIED = np.array([0.72, 0.45, 0.5, 0.65, 0.25, 0.15])
P_PAYROLL_GIVEN_VERIFIED = np.array([0.7, 0.15, 0.25, 0.6, 0.3, 0.2])
VERIFICATION = ["verified", "self_reported", "unverified"]
ENCODER = {
    "salaried": "EMP_SALARIED",
    "self_employed": "EMP_SELF",
    "contractor": "EMP_CONTRACT",
    "retired": "EMP_RETIRED",
    "student": "EMP_STUDENT",
}


class CreditPipeline(Pipeline):
    def sample(self, rng: np.random.Generator, b: Batch) -> None:
        n = b.n
        employment = Cat.choice(rng, EMPLOYMENT, n, EMPLOYMENT_P)
        e = employment.codes
        student = e == EMPLOYMENT.index("student")
        income = np.round(np.exp(EMPLOYMENT_LOG_INCOME[e] + 0.45 * rng.standard_normal(n)), -2)
        history = np.where(student, rng.gamma(2.0, 12.0, n), rng.gamma(3.0, 40.0, n))
        history = np.clip(np.round(history), 0, 600).astype(np.int64)
        bureau = np.clip(np.round(640 + 0.12 * history + 55 * rng.standard_normal(n)), 300, 850)
        verified = rng.random(n) < P_VERIFIED[e]
        payroll = verified & (rng.random(n) < P_PAYROLL_GIVEN_VERIFIED[e])
        unverified = ~verified & (rng.random(n) < 0.25)
        status = np.where(verified, 0, np.where(unverified, 2, 1)).astype(np.int32)
        age = np.where(
            student,
            rng.integers(19, 31, n),
            np.clip(np.round(41 + 12 * rng.standard_normal(n)), 21, 80),
        )
        b.hidden["verified_by_documents"] = verified & ~payroll
        b.cols.update(
            raw_applicant_id=rng.integers(0, 100_000_000, n),
            raw_applicant_age=age.astype(np.int64),
            raw_zip3=rng.integers(100, 1000, n),
            raw_income_verification=Cat(status, list(VERIFICATION)),
            raw_annual_income=income,
            raw_monthly_debt=np.round(income / 12 * 0.9 * rng.beta(2, 5, n)),
            raw_credit_history_months=history,
            raw_employment_type=employment,
            raw_bureau_score=bureau.astype(np.int64),
            raw_loan_amount=np.clip(
                np.round(np.exp(9.4 + 0.6 * rng.standard_normal(n)), -2), 1000, 60_000
            ),
            raw_inquiries_6m=rng.poisson(np.where(bureau < 620, 2.1, 0.6)),
            raw_bureau_report_age_s=rng.integers(5, 900, n),
            seg_product=Cat.choice(
                rng,
                ["personal_loan", "debt_consolidation", "home_improvement"],
                n,
                [0.5, 0.35, 0.15],
            ),
            seg_channel=Cat.choice(rng, ["web", "mobile", "partner"], n, [0.45, 0.4, 0.15]),
        )

    def features(self, b: Batch) -> None:
        c = b.cols
        income = b.num("raw_annual_income")
        c["feat_income_verified"] = np.where(
            b.cat("raw_income_verification").is_("verified"), 1.0, 0.0
        )
        c["feat_log_income"] = _log1p_sql(income)
        c["feat_dti"] = b.num("raw_monthly_debt") * 12 / np.maximum(income, 1)
        c["feat_history_years"] = b.num("raw_credit_history_months") / 12.0
        c["feat_employment_type"] = b.cat("raw_employment_type").mapped(
            func=lambda v: ENCODER.get(v, "EMP_OTHER")
        )
        c["feat_bureau_score"] = (b.num("raw_bureau_score") - 680) / 100.0
        c["feat_loan_to_income"] = b.num("raw_loan_amount") / np.maximum(income, 1)
        c["feat_inquiries"] = np.minimum(b.num("raw_inquiries_6m"), 10).astype(np.float64)


# ---- recommendations ---------------------------------------------------------------------

GENRES = ["sports", "news", "drama", "comedy", "documentary", "kids", "music"]
USER_GENRE_P = np.array([0.18, 0.17, 0.2, 0.17, 0.09, 0.08, 0.11])
ITEM_GENRE_P = np.array([0.16, 0.2, 0.2, 0.16, 0.1, 0.08, 0.1])
PROVIDERS = ["streamco", "acme_media", "northwind_news"]
PROVIDER_P = [0.45, 0.35, 0.2]
PROVIDER_LOG_DURATION = np.array([7.3, 6.4, 4.8])
# How each provider writes a genre name in its feed (plain names, its own case).
PROVIDER_FORMAT = [str.capitalize, str.lower, str.upper]
# StreamCo's feed v2 writes IAB content-taxonomy codes instead of genre names.
IAB_CODES = ["IAB17", "IAB12", "IAB1-5", "IAB1-4", "IAB1-7", "IAB9-7", "IAB1-6"]
RAW_GENRE_VOCAB = [fmt(g) for fmt in PROVIDER_FORMAT for g in GENRES] + IAB_CODES
DEVICES = ["ios", "android", "web", "tv"]
# Clicks depend on placement: logit offsets for the top slots and below the fold.
TOP_SLOT_LIFT = 0.5
BELOW_FOLD_DROP = -1.9


def _genre_index(column: Cat) -> np.ndarray:
    """Index in GENRES of each row's lower-cased value; -1 outside the vocabulary, -2 NULL."""
    lookup = [GENRES.index(v.lower()) if v.lower() in GENRES else -1 for v in column.vocab]
    return np.array(lookup + [-2], dtype=np.int32)[column.codes]


def raw_genre_codes(provider: np.ndarray, genre: np.ndarray, iab: np.ndarray) -> np.ndarray:
    """Codes into RAW_GENRE_VOCAB: the provider's spelling, or the IAB code where `iab`."""
    plain = provider * len(GENRES) + genre
    return np.where(iab, len(PROVIDER_FORMAT) * len(GENRES) + genre, plain).astype(np.int32)


class RecsPipeline(Pipeline):
    def sample(self, rng: np.random.Generator, b: Batch) -> None:
        n = b.n
        sessions = rng.negative_binomial(3, 0.25, n) + 1
        impressions = sessions * 12 + rng.poisson(5, n)
        user_ctr = rng.beta(2, 9, n)
        top = rng.choice(len(GENRES), size=n, p=USER_GENRE_P).astype(np.int32)
        provider = rng.choice(len(PROVIDERS), size=n, p=PROVIDER_P).astype(np.int32)
        matched = rng.random(n) < 0.4  # the candidate generator retrieves the user's genre
        genre = np.where(matched, top, rng.choice(len(GENRES), size=n, p=ITEM_GENRE_P))
        news_desk = (provider == 2) & (rng.random(n) < 0.8)
        genre = np.where(news_desk, GENRES.index("news"), genre).astype(np.int32)
        duration = np.exp(PROVIDER_LOG_DURATION[provider] + 0.5 * rng.standard_normal(n))
        b.hidden["genre"] = genre
        b.hidden["provider"] = provider
        b.cols.update(
            raw_user_id=rng.integers(0, 60_000, n),
            raw_user_sessions_7d=sessions,
            raw_user_impressions_7d=impressions,
            raw_user_clicks_7d=rng.binomial(impressions, user_ctr),
            raw_user_top_genre=Cat(top, list(GENRES)),
            raw_item_genre=Cat(
                raw_genre_codes(provider, genre, np.zeros(n, bool)), RAW_GENRE_VOCAB
            ),
            raw_item_provider=Cat(provider, list(PROVIDERS)),
            raw_item_age_hours=np.round(rng.exponential(30.0, n), 1),
            raw_item_duration_s=np.round(duration).astype(np.int64),
            raw_item_popularity_24h=np.round(rng.beta(2, 25, n), 4),
            raw_popularity_age_s=rng.integers(0, 900, n),
            raw_device_type=Cat.choice(rng, DEVICES, n, [0.35, 0.38, 0.17, 0.10]),
            seg_country=Cat.choice(
                rng, ["US", "GB", "DE", "BR", "IN"], n, [0.4, 0.15, 0.15, 0.15, 0.15]
            ),
        )

    def features(self, b: Batch) -> None:
        c = b.cols
        c["feat_user_activity"] = _log1p_sql(b.num("raw_user_sessions_7d").astype(np.float64))
        c["feat_user_ctr"] = b.num("raw_user_clicks_7d") / np.maximum(
            b.num("raw_user_impressions_7d"), 1
        )
        house = b.cat("raw_item_genre").mapped(
            func=lambda v: v.lower() if v.lower() in GENRES else "other"
        )
        c["feat_item_genre"] = house
        c["feat_genre_match"] = np.where(
            _genre_index(b.cat("raw_item_genre")) == _genre_index(b.cat("raw_user_top_genre")),
            1.0,
            0.0,
        )
        c["feat_item_freshness"] = np.exp(-b.num("raw_item_age_hours") / 48.0)
        c["feat_log_duration"] = _log1p_sql(b.num("raw_item_duration_s").astype(np.float64))
        c["feat_item_popularity"] = b.num("raw_item_popularity_24h").astype(np.float64)
        c["feat_device_type"] = b.cat("raw_device_type").mapped({})

    def truth(self, rng: np.random.Generator, scorer: PlaybookScorer, b: Batch) -> None:
        """How relevant each candidate really is: the scorer on the true features, plus
        taste the model does not see, an evening lift and any shift of taste in the world."""
        self.features(b)
        evening = 0.1 * np.cos((b.hour_of_day - 20.0) / 24.0 * 2 * np.pi)
        taste = 0.35 * rng.standard_normal(b.n) + b.hidden.get("taste_shift", 0.0)
        b.hidden["relevance"] = scorer.margin(b.cols) + evening + taste

    def outcomes(self, rng: np.random.Generator, b: Batch) -> None:
        top = b.cat("decision").is_("top")
        placement = np.where(top, TOP_SLOT_LIFT, BELOW_FOLD_DROP)
        b.cols["label_clicked"] = rng.random(b.n) < sigmoid(b.hidden["relevance"] + placement)

    def rate_indicator(self, b: Batch, positive: str) -> np.ndarray:
        return b.num("label_clicked").astype(np.float64)


FRAUD = FraudPipeline(
    playbook="fraud",
    id_prefix="frd",
    model_version="fraud-lr-2026.10.3",
    serving=Serving(median_ms=38.0, spread=0.35, error_rate=0.0005),
    rate_series="fraud_decline_rate",
    error_series="fraud_error_rate",
    latency_series="fraud_latency_p99_ms",
    weekend=1.15,
    tokens=(("raw_card_token", "card_", 7),),
)
CREDIT = CreditPipeline(
    playbook="credit",
    id_prefix="app",
    model_version="pd-2026.09.1",
    serving=Serving(median_ms=120.0, spread=0.3, error_rate=0.0005),
    rate_series="credit_denial_rate",
    error_series="credit_error_rate",
    latency_series="credit_latency_p99_ms",
    weekend=0.6,
    tokens=(("raw_applicant_id", "A", 8), ("raw_zip3", "", 3)),
)
RECS = RecsPipeline(
    playbook="recommendations",
    id_prefix="rec",
    model_version="ranker-2026.11.0",
    serving=Serving(median_ms=22.0, spread=0.4, error_rate=0.0005),
    rate_series="recs_ctr",
    error_series="recs_error_rate",
    latency_series="recs_latency_p99_ms",
    weekend=1.25,
    tokens=(("raw_user_id", "u", 7),),
)
