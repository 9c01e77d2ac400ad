"""One-vs-rest and multi-output wrappers: one rule per output, losses summed.

``OneVsRestClassifier``, ``MultiOutputRegressor`` and ``MultiOutputClassifier``
fit one independent estimator per output (per class, or per target column).
Their joint objective is the sum of the sub-estimators' objectives, each on
its own target:

.. math::

    J(Θ̃) = Σ_k [ c_k Σ_i s_{ik} ℓ_k(y_{ik}, z_{ik}) + ½ Σ_j λ_{kj} Θ̃_{kj}² ],

so the outputs are decoupled and the Hessian is block diagonal, one block per
output: exactly the structure of a one-vs-rest ``LinearSVC``. The test loss is
the **sum of the per-output losses** (for ``OneVsRestClassifier`` of
``LogisticRegression``: the sum of the K binary log-losses, not a multinomial
log-loss). Each ``c_k`` is folded into the sample scale ``s`` (one column per
output), so the composite rule has ``c = 1``.

Sub-estimators must have decoupled outputs (binary logistic regression,
one-vs-rest margin models, Ridge, GLMs, …): a multinomial
``LogisticRegression`` inside a ``MultiOutputClassifier`` is refused.
"""

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone

from ._base import LinearRule


def ovr_targets(classes, y):
    """The binary targets of a ``OneVsRestClassifier``'s sub-estimators (0/1 ints)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError("OneVsRestClassifier is supported for 1-D (multiclass) targets only.")
    unknown = np.setdiff1d(np.unique(y), classes)
    if unknown.size:
        raise ValueError(
            f"y contains labels {unknown.tolist()} unknown to the estimator, whose "
            f"classes_ are {np.asarray(classes).tolist()}."
        )
    if len(classes) == 2:
        return [(y == classes[1]).astype(np.int64)]
    return [(y == c).astype(np.int64) for c in classes]


def column_targets(n_outputs, y):
    """The per-column targets of a ``MultiOutputRegressor``/``MultiOutputClassifier``."""
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] != n_outputs:
        raise ValueError(
            f"y must have {n_outputs} columns (one per output), got shape {y.shape}."
        )
    return [y[:, k] for k in range(n_outputs)]


class OutputwiseRule(LinearRule):
    """Independent sub-rules stacked along the outputs.

    Parameters
    ----------
    sub_rules : list of LinearRule
        One per sub-estimator, each with decoupled outputs.
    split : callable
        ``split(y)`` returns the list of each sub-estimator's targets.
    """

    def __init__(self, sub_rules, split, multi_target=False):
        for r in sub_rules:
            if r.coupled:
                raise ValueError(
                    "A sub-estimator with coupled outputs (multinomial "
                    "LogisticRegression) cannot be stacked: fit it one-vs-rest "
                    "(OneVsRestClassifier) or as binary problems."
                )
            if type(r).design is not LinearRule.design or hasattr(r, "l1_penalty"):
                raise ValueError(
                    f"{type(r).__name__[:-4]} cannot be stacked in a one-vs-rest or "
                    "multi-output wrapper (its coordinates or its L1 penalty are its "
                    "own): explain each output's estimator on its own."
                )
        if len({r.fit_intercept for r in sub_rules}) != 1 or len(
            {r.coef.shape[1] for r in sub_rules}
        ) != 1:
            raise ValueError("Sub-estimators must share fit_intercept and the features.")
        coef = np.vstack([r.coef for r in sub_rules])
        penalty = np.vstack([r.penalty for r in sub_rules])
        super().__init__(coef, penalty, 1.0, sub_rules[0].fit_intercept)
        self.sub_rules = sub_rules
        self.split = split
        #: MultiOutput* wrappers take a 2-D ``y`` (one column per sub-estimator)
        self.multi_target = bool(multi_target)
        bounds = np.cumsum([0] + [r.n_outputs for r in sub_rules])
        self.slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        self.smooth_surrogate = any(r.smooth_surrogate for r in sub_rules)
        self.solver_reaches_optimum = all(r.solver_reaches_optimum for r in sub_rules)

    def _each(self, name, Y, Z):
        return np.concatenate(
            [
                getattr(r, name)(Y[..., sl], Z[..., sl])
                for r, sl in zip(self.sub_rules, self.slices, strict=True)
            ],
            axis=-1,
        )

    def encode_targets(self, y):
        return np.hstack(
            [r.encode_targets(t) for r, t in zip(self.sub_rules, self.split(y), strict=True)]
        )

    def sample_scale(self, y, sample_weight):
        cols = []
        for r, t, sl in zip(self.sub_rules, self.split(y), self.slices, strict=True):
            s = r.scale * r.sample_scale(t, sample_weight)
            cols.append(np.broadcast_to(s, (s.shape[0], sl.stop - sl.start)))
        return np.hstack(cols)

    def frozen_class_weight(self, y, sample_weight):  # pragma: no cover - per sub-rule
        return None

    def loss(self, Y, Z):
        return sum(
            r.loss(Y[..., sl], Z[..., sl])
            for r, sl in zip(self.sub_rules, self.slices, strict=True)
        )

    def output_loss(self, Y, Z):
        return self._each("output_loss", Y, Z)

    def loss_change(self, Y, Z, dZ):
        return sum(
            r.loss_change(Y[..., sl], Z[..., sl], dZ[..., sl])
            for r, sl in zip(self.sub_rules, self.slices, strict=True)
        )

    def loss_gradient(self, Y, Z):
        return self._each("loss_gradient", Y, Z)

    def loss_curvature(self, Y, Z):
        return self._each("loss_curvature", Y, Z)

    def write_to(self, estimator):
        for r, sl, est in zip(self.sub_rules, self.slices, estimator.estimators_, strict=True):
            r.with_coef(self.coef[sl]).write_to(est)


class PerOutputRefit(MetaEstimatorMixin, BaseEstimator):
    """One estimator per output, fitted on its own target with sample weights.

    What ``loo_refit`` refits for a wrapper: ``OneVsRestClassifier`` does not
    pass ``sample_weight`` to its sub-estimators (unless metadata routing is
    enabled), and the sub-estimators may need different frozen class weights.

    Parameters
    ----------
    estimators : list of estimators
        The (tightened) sub-estimators, one per output.
    classes : ndarray or None
        ``OneVsRestClassifier``'s classes (targets are one-vs-rest indicators),
        or None (targets are the columns of ``y``).
    """

    def __init__(self, estimators, classes=None):
        self.estimators = estimators
        self.classes = classes

    def split(self, y):
        if self.classes is None:
            return column_targets(len(self.estimators), y)
        return ovr_targets(self.classes, y)

    def fit(self, X, y, sample_weight=None):
        targets = self.split(y)
        self.estimators_ = [
            clone(est).fit(X, t, sample_weight=sample_weight)
            for est, t in zip(self.estimators, targets, strict=True)
        ]
        self.n_features_in_ = X.shape[1]
        return self
