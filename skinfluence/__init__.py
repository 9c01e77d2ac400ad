"""skinfluence: influence functions for fitted scikit-learn linear models.

Which training rows made this prediction, which rows are mislabeled or
outliers, and what happens if they are dropped, without retraining.
"""

from ._loo import loo_refit
from ._solvers import SingularHessianError
from .explainer import InfluenceExplainer

__version__ = "0.1.0.dev0"

__all__ = ["InfluenceExplainer", "SingularHessianError", "loo_refit", "__version__"]
