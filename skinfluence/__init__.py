"""skinfluence: influence functions for fitted scikit-learn linear models.

Which training rows made this prediction, which rows are mislabeled or
outliers, and what happens if they are dropped, without retraining.
"""

from ._bruteforce import supports
from ._loo import loo_refit
from ._solvers import SingularHessianError
from .diagnostics import influence_frame, summary_frame, top_influences, verify
from .explainer import InfluenceExplainer
from .label_issues import find_label_issues
from .plotting import (
    InfluenceDisplay,
    InfluencePlotDisplay,
    LabelIssueCurveDisplay,
    LOOAgreementDisplay,
    SelfInfluenceDisplay,
)
from .pruning import (
    InfluencePrunedClassifier,
    InfluencePrunedRegressor,
    InfluencePruner,
    influence_scores,
)
from .ranking import rank_suspicious

__version__ = "0.1.0.dev0"

__all__ = [
    "InfluenceDisplay",
    "InfluenceExplainer",
    "InfluencePlotDisplay",
    "InfluencePrunedClassifier",
    "InfluencePrunedRegressor",
    "InfluencePruner",
    "LOOAgreementDisplay",
    "LabelIssueCurveDisplay",
    "SelfInfluenceDisplay",
    "SingularHessianError",
    "find_label_issues",
    "influence_frame",
    "influence_scores",
    "loo_refit",
    "rank_suspicious",
    "summary_frame",
    "supports",
    "top_influences",
    "verify",
    "__version__",
]
