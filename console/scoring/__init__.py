"""Scorers for counterfactuals: built-in (linear, logistic), python and http.

    from console.scoring import build_scorer
    scorer = build_scorer(playbook.scorer, playbook.path.parent, features=[...])
    scores = scorer.score(table)          # columns named by feature node ids
    decisions = scorer.decide(scores)

Attribution and the smallest decision flip live in console.scoring.explain.
"""

from console.scoring.base import BaseScorer
from console.scoring.build import build_scorer

__all__ = ["BaseScorer", "build_scorer"]
