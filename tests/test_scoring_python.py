"""The python scorer: an entry point imported from a module next to the playbook."""

import itertools
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.scoring import build_scorer

_names = itertools.count()

TABLE = pa.table({"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, None], "extra": ["x", "y", "z"]})


def module(tmp_path, body):
    """Write a uniquely named module into tmp_path and return its name."""
    name = f"scorer_mod_{next(_names)}_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    return name


def build(tmp_path, body, function="score", features=("a", "b")):
    name = module(tmp_path, body)
    spec = Scorer(type="python", entry_point=f"{name}:{function}")
    return build_scorer(spec, base_dir=tmp_path, features=list(features))


def test_entry_point_scores_the_feature_columns_only(tmp_path):
    scorer = build(
        tmp_path,
        """
        import pyarrow.compute as pc

        def score(table):
            assert table.column_names == ["a", "b"]
            return pc.add(table["a"], pc.fill_null(table["b"], 0.0))
        """,
    )
    assert scorer.features == ["a", "b"]
    np.testing.assert_allclose(scorer.score(TABLE), [11.0, 22.0, 3.0])


def test_a_plain_list_of_numbers_becomes_float64(tmp_path):
    scorer = build(
        tmp_path, "import numpy as np\ndef score(table):\n    return [0.5, np.float32(2), 1]\n"
    )
    scores = scorer.score(TABLE)
    assert scores.dtype == np.float64
    assert scores.tolist() == [0.5, 2.0, 1.0]


# A None used to become a NaN score, counted as the negative decision (a flip) in the blast
# radius: now every score that is not a finite number is an error naming its row.
@pytest.mark.parametrize(
    "answer, shown",
    [
        ("[0.5, None, 1]", "null"),
        ("[0.5, float('nan'), 1]", "NaN"),
        ("[0.5, float('inf'), 1]", "Infinity"),
        ("[0.5, 'inf', 1]", "'inf'"),
        ("[0.5, 1e999, 1]", "Infinity"),
        ("[0.5, 10**400, 1]", "1000000000"),
        ("np.array([0.5, np.nan, 1])", "NaN"),
        ("pa.array([0.5, None, 1])", "null"),
    ],
)
def test_a_score_that_is_not_a_finite_number_names_its_row(tmp_path, answer, shown):
    scorer = build(
        tmp_path,
        f"import numpy as np\nimport pyarrow as pa\ndef score(table):\n    return {answer}\n",
    )
    with pytest.raises(ConsoleError) as caught:
        scorer.score(TABLE)
    message = str(caught.value)
    assert message.startswith("scorer python ") and ":score returned " + shown in message
    assert "for row 1: not a " in message


def test_import_error_names_the_entry_point(tmp_path):
    spec = Scorer(type="python", entry_point="no_such_module_here:score")
    with pytest.raises(ConsoleError, match="'no_such_module_here:score'.*cannot import"):
        build_scorer(spec, base_dir=tmp_path, features=["a"])


def test_module_failing_at_import_names_the_entry_point(tmp_path):
    name = module(tmp_path, "raise RuntimeError('model file missing')\n")
    spec = Scorer(type="python", entry_point=f"{name}:score")
    with pytest.raises(ConsoleError, match=f"{name}:score.*model file missing"):
        build_scorer(spec, base_dir=tmp_path, features=["a"])


def test_missing_function_and_bad_format(tmp_path):
    with pytest.raises(ConsoleError, match="has no 'nothing'"):
        build(tmp_path, "def score(table):\n    return []\n", function="nothing")
    with pytest.raises(ConsoleError, match="package.module:function"):
        build_scorer(Scorer(type="python", entry_point="just_a_module"), features=["a"])


def test_wrong_number_of_scores_is_a_clear_error(tmp_path):
    scorer = build(tmp_path, "def score(table):\n    return [1.0]\n")
    with pytest.raises(ConsoleError, match=r"scorer python .*:score returned 1 scores for 3 rows"):
        scorer.score(TABLE)


def test_function_raising_or_returning_text_is_a_clear_error(tmp_path):
    scorer = build(tmp_path, "def score(table):\n    raise KeyError('b')\n")
    with pytest.raises(ConsoleError, match="raised KeyError"):
        scorer.score(TABLE)
    scorer = build(tmp_path, "def score(table):\n    return ['high', 'low', 'low']\n")
    with pytest.raises(ConsoleError, match="not a number"):
        scorer.score(TABLE)
