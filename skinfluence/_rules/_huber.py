"""HuberRegressor: a joint objective in the coefficients and the scale σ.

scikit-learn's ``HuberRegressor`` minimises, over ``w``, ``b`` and ``σ > 0``,

.. math::

    J(w, b, σ) = Σ_i s_i \\bigl(σ + σ H_ε(r_i/σ)\\bigr) + α‖w‖², \\qquad
    r_i = y_i − x_iᵀw − b,

with ``H_ε(u) = u²`` for ``|u| ≤ ε`` and ``2ε|u| − ε²`` beyond (the
intercept is unpenalised). Per sample, ``ℓ(y, z, σ) = σ + r²/σ`` for an
inlier (``|r| ≤ εσ``) and ``σ + 2ε|r| − ε²σ`` for an outlier. That per-sample
term is the test loss.

**The rule.** σ is a parameter but not a coefficient of the features, so the
rule has two outputs, ``z₁ = x̃ᵀθ₁ = xᵀw + b`` and ``z₂ = x̃ᵀθ₂ = σ``: the
second row of ``Θ̃`` is ``[0, …, 0, σ]`` and its feature entries are pinned
at zero by a penalty of ``1e30`` (so ``H⁻¹`` vanishes on them to rounding;
the equilibrated Cholesky sees a unit diagonal there). Without an intercept
the intercept entry of the first row is pinned the same way. The public
parameter layout is ``[coef_, intercept_ (if fitted), scale_]``. The loss
couples ``z₁`` and σ, so the Hessian is one full ``2p̃ × 2p̃`` matrix and the
``newton`` method solves a 2 × 2 system per row (Woodbury).

Derivatives (inlier / outlier): ``∂ℓ/∂z₁ = −2r/σ`` / ``−2ε sign(r)``;
``∂ℓ/∂σ = 1 − r²/σ²`` / ``1 − ε²``; the curvature is
``[[2/σ, 2r/σ²], [2r/σ², 2r²/σ³]]`` for an inlier and **zero for an outlier**.

**What is exact.** ``J`` is piecewise: each term is smooth except where
``|rᵢ| = εσ``. At the fitted parameters the gradient and the Hessian are
exact for every row off that boundary (the outlier mask of scikit-learn's
``outliers_``). Influence holds the mask fixed: a row whose removal moves
another row across ``|r| = εσ`` is where the estimates part from refits. Rows
*on* the boundary (to rounding) have a one-sided Hessian.
"""

import numpy as np
from sklearn.linear_model import HuberRegressor

from ._base import LinearRule
from ._logistic import MultinomialLogisticRule

#: Penalty pinning the structural zeros of ``Θ̃`` (σ's feature coefficients).
PIN = 1e30


class HuberRefit(HuberRegressor):
    """``HuberRegressor`` whose warm start also starts σ at the full-data ``scale_``.

    ``loo_refit`` warm-starts refits from ``coef_``/``intercept_`` only;
    scikit-learn's warm start needs ``scale_`` too, and it mishandles
    ``fit_intercept=False`` (it appends an intercept), so that case starts
    cold.
    """

    _parameter_constraints = {
        **HuberRegressor._parameter_constraints,
        "scale_init": "no_validation",
    }

    def __init__(
        self,
        *,
        epsilon=1.35,
        max_iter=100,
        alpha=0.0001,
        warm_start=False,
        fit_intercept=True,
        tol=1e-05,
        scale_init=1.0,
    ):
        super().__init__(
            epsilon=epsilon,
            max_iter=max_iter,
            alpha=alpha,
            warm_start=warm_start,
            fit_intercept=fit_intercept,
            tol=tol,
        )
        self.scale_init = scale_init

    def fit(self, X, y, sample_weight=None):
        warm = self.warm_start
        if not self.fit_intercept:
            self.warm_start = False
        elif warm and hasattr(self, "coef_") and not hasattr(self, "scale_"):
            self.scale_ = float(self.scale_init)
        try:
            return super().fit(X, y, sample_weight=sample_weight)
        finally:
            self.warm_start = warm


def huber_refit(estimator):
    """The unfitted :class:`HuberRefit` with ``estimator``'s parameters."""
    return HuberRefit(**estimator.get_params(deep=False), scale_init=float(estimator.scale_))


class HuberRule(LinearRule):
    """Calculus of a fitted ``HuberRegressor`` (see the module docstring)."""

    coupled = True
    #: L-BFGS-B stops on its relative-decrease test (``ftol``, not settable
    #: through HuberRegressor) at a relative gradient of 1e-5 to 1e-3:
    #: ``loo_refit`` polishes refits with Newton's method, and
    #: ``refine=True`` does the same for the explained fit.
    solver_reaches_optimum = False

    def __init__(self, estimator):
        self.epsilon = float(estimator.epsilon)
        self.has_intercept = bool(estimator.fit_intercept)
        w = np.asarray(estimator.coef_, dtype=np.float64).ravel()
        p = w.size
        b = float(estimator.intercept_) if self.has_intercept else 0.0
        coef = np.zeros((2, p + 1))
        coef[0, :p], coef[0, p], coef[1, p] = w, b, float(estimator.scale_)
        lam = np.zeros((2, p + 1))
        lam[0, :p] = 2.0 * float(estimator.alpha)
        lam[0, p] = 0.0 if self.has_intercept else PIN
        lam[1, :p] = PIN
        # the design always carries the constant column (σ is its coefficient)
        super().__init__(coef, lam, 1.0, True)

    # ----------------------------------------------------------------- layout
    @property
    def n_params(self):
        return self.n_features + self.has_intercept + 1

    def to_public(self, T):
        """``[coef_, intercept_ (if fitted), scale_]``."""
        T = np.asarray(T)
        p = self.n_features
        parts = [T[..., 0, :p]]
        if self.has_intercept:
            parts.append(T[..., 0, p : p + 1])
        parts.append(T[..., 1, p : p + 1])
        return np.concatenate(parts, axis=-1)

    def write_to(self, estimator):
        p = self.n_features
        estimator.coef_ = self.coef[0, :p].copy()
        estimator.intercept_ = float(self.coef[0, p]) if self.has_intercept else 0.0
        estimator.scale_ = float(self.coef[1, p])

    # ------------------------------------------------------------- per sample
    def encode_targets(self, y):
        Y = np.asarray(y, dtype=np.float64)
        if Y.ndim != 1:
            raise ValueError(f"y must be 1-D for HuberRegressor, got shape {Y.shape}.")
        return np.column_stack([Y, np.zeros_like(Y)])

    def _parts(self, Y, Z):
        r = Y[..., 0] - Z[..., 0]
        sigma = Z[..., 1]
        return r, sigma, np.abs(r) > self.epsilon * sigma

    def loss(self, Y, Z):
        r, sigma, out = self._parts(Y, Z)
        eps = self.epsilon
        return np.where(
            out, sigma + 2.0 * eps * np.abs(r) - eps**2 * sigma, sigma + r**2 / sigma
        )

    def loss_gradient(self, Y, Z):
        r, sigma, out = self._parts(Y, Z)
        eps = self.epsilon
        dz = np.where(out, -2.0 * eps * np.sign(r), -2.0 * r / sigma)
        dsigma = np.where(out, 1.0 - eps**2, 1.0 - (r / sigma) ** 2)
        return np.stack([dz, dsigma], axis=-1)

    def loss_curvature(self, Y, Z):
        r, sigma, out = self._parts(Y, Z)
        inl = ~out
        D = np.zeros(r.shape + (2, 2))
        D[..., 0, 0] = np.where(inl, 2.0 / sigma, 0.0)
        D[..., 0, 1] = D[..., 1, 0] = np.where(inl, 2.0 * r / sigma**2, 0.0)
        D[..., 1, 1] = np.where(inl, 2.0 * r**2 / sigma**3, 0.0)
        return D

    # the dense coupled Hessian, assembled exactly as for the softmax
    hessian = MultinomialLogisticRule.full_hessian  # a full matrix: no softmax null space here


HUBER_RULES = {HuberRegressor: HuberRule, HuberRefit: HuberRule}
