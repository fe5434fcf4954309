"""Attribution and the smallest decision flip, for built-in, python and http scorers."""

import json
import math
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pyarrow as pa
import pytest

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.scoring import build_scorer
from console.scoring.explain import attribute, smallest_flip

WEIGHTS = {"amount": 0.8, "count": -0.5, "merchant=gambling": 2.0, "merchant=travel": -1.0}


def background(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "amount": rng.normal(2.0, 1.5, n),
            "count": pa.array(rng.integers(0, 8, n), pa.int64()),
            "merchant": rng.choice(["grocery", "travel", "gambling"], n, p=[0.6, 0.3, 0.1]),
        }
    )


def logistic(threshold=0.5):
    spec = Scorer(
        type="logistic",
        intercept=-1.0,
        weights=WEIGHTS,
        threshold=threshold,
        positive="decline",
        negative="approve",
    )
    return build_scorer(spec)


def test_linear_attribution_is_exact_and_sums_to_the_margin_gap():
    bg = background()
    scorer = logistic()
    row = {"amount": 5.0, "count": 1, "merchant": "gambling"}
    found = attribute(scorer, row, bg)
    by = {a.feature: a for a in found}
    amount = bg.column("amount").to_numpy()
    count = bg.column("count").to_numpy()
    merchant = np.array(bg.column("merchant").to_pylist())
    mean_cat = np.mean(np.select([merchant == "gambling", merchant == "travel"], [2.0, -1.0], 0))
    assert by["amount"].contribution == pytest.approx(0.8 * (5.0 - amount.mean()))
    assert by["count"].contribution == pytest.approx(-0.5 * (1 - count.mean()))
    assert by["merchant"].contribution == pytest.approx(2.0 - mean_cat)
    assert by["merchant"].value == "gambling"
    # Ordered by size, and the sum is the logit gap to the background's mean margin.
    assert [abs(a.contribution) for a in found] == sorted(
        (abs(a.contribution) for a in found), reverse=True
    )
    margin_row = scorer.margin(pa.table({k: [v] for k, v in row.items()}))[0]
    assert sum(a.contribution for a in found) == pytest.approx(
        margin_row - scorer.margin(bg).mean()
    )
    assert json.dumps([a.to_dict() for a in found], allow_nan=False)


def test_null_row_value_is_attributed_with_the_null_policy():
    bg = background()
    found = {
        a.feature: a
        for a in attribute(logistic(), {"amount": None, "count": 2, "merchant": None}, bg)
    }
    # NULL counts as 0: the attribution is 0.8 * (0 - mean amount).
    assert found["amount"].contribution == pytest.approx(
        -0.8 * bg.column("amount").to_numpy().mean()
    )


def python_linear_scorer(tmp_path):
    (tmp_path / "blackbox_linear.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def score(table):
                amount = table.column("amount").to_numpy(zero_copy_only=False)
                count = table.column("count").to_numpy(zero_copy_only=False)
                merchant = np.array(table.column("merchant").to_pylist())
                return 0.8 * amount - 0.5 * count + 2.0 * (merchant == "gambling")
            """
        )
    )
    spec = Scorer(type="python", entry_point="blackbox_linear:score")
    return build_scorer(spec, base_dir=tmp_path, features=["amount", "count", "merchant"])


def test_sampled_shapley_of_a_black_box_matches_the_exact_values_and_is_seeded(tmp_path):
    bg = background()
    scorer = python_linear_scorer(tmp_path)
    row = {"amount": 5.0, "count": 1, "merchant": "gambling"}
    found = {a.feature: a.contribution for a in attribute(scorer, row, bg, samples=600, seed=3)}
    amount = bg.column("amount").to_numpy()
    gambling = np.mean(np.array(bg.column("merchant").to_pylist()) == "gambling")
    assert found["amount"] == pytest.approx(0.8 * (5.0 - amount.mean()), abs=0.15)
    assert found["count"] == pytest.approx(
        -0.5 * (1 - bg.column("count").to_numpy().mean()), abs=0.15
    )
    assert found["merchant"] == pytest.approx(2.0 * (1 - gambling), abs=0.15)
    again = {a.feature: a.contribution for a in attribute(scorer, row, bg, samples=600, seed=3)}
    assert again == found


class ScoreHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.requests += 1
        rows = json.loads(self.rfile.read(int(self.headers["content-length"])))["rows"]
        scores = [1 / (1 + math.exp(-(0.8 * r["amount"] - 0.5 * r["count"] - 1))) for r in rows]
        payload = json.dumps({"scores": scores}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_scorer():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ScoreHandler)
    httpd.daemon_threads = True
    httpd.requests = 0
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    spec = Scorer(type="http", url=url, batch_size=1000, positive="decline", negative="approve")
    yield build_scorer(spec, features=["amount", "count"]), httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_http_scorer_is_explained_in_few_requests(http_scorer):
    scorer, httpd = http_scorer
    bg = background().select(["amount", "count"])
    found = attribute(scorer, {"amount": 6.0, "count": 0}, bg, samples=300)
    assert httpd.requests == 1  # 300 walks of 3 rows: one batch of at most 1000
    assert found[0].feature == "amount" and found[0].contribution > 0
    httpd.requests = 0
    flip = smallest_flip(scorer, {"amount": 6.0, "count": 0}, bg)
    assert flip is not None and flip.new_decision == "approve"
    assert flip.new_value == pytest.approx(1.25, abs=1e-4)  # 0.8 * a - 1 = 0
    assert httpd.requests == 3 + 7  # row, first candidates, 7 narrowing rounds, check


def test_smallest_flip_finds_the_nearest_numeric_change():
    bg = background()
    scorer = logistic()
    row = {"amount": 2.0, "count": 2, "merchant": "grocery"}  # margin -1 + 1.6 - 1 = -0.4
    flip = smallest_flip(scorer, row, bg)
    assert flip.feature == "amount"
    assert flip.old_decision == "approve" and flip.new_decision == "decline"
    assert flip.new_value == pytest.approx(2.0 + 0.4 / 0.8, abs=1e-5)  # margin 0 -> score 0.5
    assert flip.new_value >= 2.5 and flip.new_score >= 0.5 and flip.old_score < 0.5
    assert flip.size == pytest.approx(
        abs(flip.new_value - 2.0) / bg.column("amount").to_numpy().std()
    )
    assert json.dumps(flip.to_dict(), allow_nan=False)


def test_integer_features_flip_to_whole_numbers():
    bg = background()
    scorer = build_scorer(Scorer(type="linear", weights={"count": 1.0}, threshold=4.5))
    flip = smallest_flip(scorer, {"amount": 0.0, "count": 1, "merchant": "grocery"}, bg)
    assert flip.feature == "count" and flip.new_value == 5 and isinstance(flip.new_value, int)


def test_category_change_flips_when_no_number_can():
    bg = background()
    spec = Scorer(type="linear", weights={"count": 0.01, "merchant=gambling": 3.0}, threshold=2.0)
    flip = smallest_flip(build_scorer(spec), {"amount": 0.0, "count": 3, "merchant": "travel"}, bg)
    assert flip.feature == "merchant" and flip.new_value == "gambling" and flip.size == 1.0


def test_no_single_change_flips_returns_none():
    spec = Scorer(type="linear", weights={"count": 0.01}, threshold=100.0)
    assert (
        smallest_flip(
            build_scorer(spec), {"amount": 0.0, "count": 3, "merchant": "x"}, background()
        )
        is None
    )


def test_bad_rows_and_backgrounds_are_console_errors():
    scorer = logistic()
    with pytest.raises(ConsoleError, match="lacks feature.*merchant"):
        attribute(scorer, {"amount": 1.0, "count": 1}, background())
    with pytest.raises(ConsoleError, match="no rows"):
        smallest_flip(
            scorer, {"amount": 1.0, "count": 1, "merchant": "x"}, background().slice(0, 0)
        )
    with pytest.raises(ConsoleError, match="'count' value 'many'"):
        attribute(scorer, {"amount": 1.0, "count": "many", "merchant": "x"}, background())


def test_filling_a_null_counts_at_least_as_a_category_change():
    bg = background()
    amount = bg.column("amount").to_numpy()
    row = {"amount": None, "count": 2, "merchant": "grocery"}  # NULL scores as 0: approve

    def flip_at(threshold):
        spec = Scorer(type="linear", weights={"amount": 1.0}, threshold=threshold)
        return smallest_flip(build_scorer(spec), row, bg)

    # The background's typical amount (about 2.0) already flips: the size is 1.0, not ~0.
    near = flip_at(1.0)
    assert near.feature == "amount" and near.old_value is None
    assert near.old_decision == "0" and near.new_decision == "1"
    assert abs(near.new_value - amount.mean()) / amount.std() < 0.1
    assert near.size == 1.0
    # A value far from typical has to be reached: the size is its distance from the mean.
    far = flip_at(5.0)
    assert far.feature == "amount" and far.new_value == pytest.approx(5.0, abs=1e-4)
    assert far.size == pytest.approx(abs(far.new_value - amount.mean()) / amount.std())
    assert far.size > 1.0
