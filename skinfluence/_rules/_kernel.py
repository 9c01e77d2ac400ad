"""KernelRidge: influence in the dual, with the exact closed-form leave-one-out.

scikit-learn's ``KernelRidge`` minimises, over functions ``f = Σ_j α_j k(·, x_j)``,

.. math::

    Σ_i s_i (y_i − f(x_i))² + α ‖f‖²_H = ‖S^{1/2}(y − Kα)‖² + α · αᵀ K α,

(no intercept) and reports the dual coefficients ``dual_coef_``. The penalty
``αᵀKα`` is not diagonal in the dual coefficients, so the rule works in the
orthonormal coordinates of the training kernel: with ``K = U Λ Uᵀ`` (the
eigenvalues above ``n·eps·λ_max``, rank ``r``), the training rows have the
features ``Φ = U Λ^{1/2}`` (``ΦΦᵀ = K``), a test point ``x`` has
``φ(x) = Λ^{-1/2} Uᵀ k(x)``, and the model is Ridge on ``Φ`` with
``β = Λ^{1/2} Uᵀ α`` and ``‖f‖²_H = ‖β‖²``: squared error, ``c = 1``,
``λ = 2α``, no intercept. Every solver of the package applies unchanged.

Removing a training row removes its term; the leave-one-out minimiser lies in
the span of the remaining rows, which the coordinates contain, so ``newton``
is **the exact leave-one-out** (closed form, one ``n × n`` problem): influence,
self-influence and parameter changes equal refits of ``KernelRidge`` to
rounding. Any kernel works, ``"precomputed"`` included (then ``X`` is the
kernel between the rows and the training rows).

The public parameters are the dual coefficients in the layout of
``dual_coef_.ravel()``: ``α = U Λ^{-1/2} β``. When ``K`` is singular (a
linear kernel with fewer features than rows) the dual coefficients are not
unique; the rule reports the ones in the range of ``K`` (the predictions and
every loss change are unaffected).
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import pairwise_kernels

from .._design import DesignMatrix
from ._base import LinearRule
from ._ridge import SquaredErrorRule


def kernel_between(estimator, X):
    """``k(X, X_fit_)`` as the estimator computes it (dense)."""
    if estimator.kernel == "precomputed":
        K = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
        return K
    params = dict(estimator.kernel_params or {})
    if not callable(estimator.kernel):
        params.update(gamma=estimator.gamma, degree=estimator.degree, coef0=estimator.coef0)
    return np.asarray(
        pairwise_kernels(
            X, estimator.X_fit_, metric=estimator.kernel, filter_params=True, **params
        ),
        dtype=np.float64,
    )


class KernelRidgeRule(SquaredErrorRule):
    """Calculus of a fitted ``KernelRidge`` (see the module docstring)."""

    def __init__(self, estimator):
        self.estimator = estimator
        dual = np.asarray(estimator.dual_coef_, dtype=np.float64)
        self.multi_target = dual.ndim == 2
        A = dual.reshape(dual.shape[0], -1).T  # (K, n)
        K = kernel_between(estimator, estimator.X_fit_)
        K = 0.5 * (K + K.T)
        lam, U = np.linalg.eigh(K)
        keep = lam > lam.max() * K.shape[0] * np.finfo(np.float64).eps
        self.U, self.sqrt_lam = U[:, keep], np.sqrt(lam[keep])
        beta = (A @ self.U) * self.sqrt_lam  # β = Λ^{1/2} Uᵀ α, (K, r)
        alpha = np.broadcast_to(np.ravel(np.asarray(estimator.alpha, dtype=np.float64)),
                                (A.shape[0],))
        lam_pen = np.repeat(2.0 * alpha[:, None], beta.shape[1], axis=1)
        LinearRule.__init__(self, beta, lam_pen, 1.0, False)

    def design(self, X):
        """Rows in the kernel's coordinates: ``φ(x) = Λ^{-1/2} Uᵀ k(x)``."""
        return DesignMatrix((kernel_between(self.estimator, X) @ self.U) / self.sqrt_lam, False)

    @property
    def n_params(self):
        return self.U.shape[0] * self.n_outputs

    def to_public(self, T):
        """``α = U Λ^{-1/2} β`` in the layout of ``dual_coef_.ravel()``."""
        T = np.asarray(T)
        A = (T / self.sqrt_lam) @ self.U.T  # (..., K, n)
        if not self.multi_target:
            return A[..., 0, :]
        return np.swapaxes(A, -1, -2).reshape(*A.shape[:-2], -1)

    def write_to(self, estimator):
        A = (self.coef / self.sqrt_lam) @ self.U.T
        estimator.dual_coef_ = A.T.copy() if self.multi_target else A[0].copy()


KERNEL_RULES = {KernelRidge: KernelRidgeRule}


class KernelRidgeRefit(BaseEstimator):
    """What ``loo_refit`` refits for a ``KernelRidge``: the same objective, in
    the full training kernel's coordinates.

    A ``KernelRidge`` refitted without row ``i`` has ``n − 1`` dual
    coefficients (and a precomputed kernel would need its column dropped
    too). This estimator solves the same problem,
    ``min_β Σ_j s_j (y_j − φ(x_j)ᵀβ)² + α‖β‖²`` over the kept rows, in the
    coordinates ``φ`` of the full training kernel, which contain every
    leave-one-out solution: its coefficients are those of the explainer's
    rule. (The tests check it against real ``KernelRidge`` refits.)
    """

    def __init__(self, rule=None):
        self.rule = rule

    def fit(self, X, y, sample_weight=None):
        rule = self.rule
        Phi = rule.design(X).dense_rows()
        Y = rule.encode_targets(y)
        sw = np.ones(Phi.shape[0]) if sample_weight is None else np.asarray(sample_weight)
        lam = 0.5 * rule.penalty[:, 0]  # λ = 2α
        G = Phi.T @ (Phi * sw[:, None])
        B = Phi.T @ (Y * sw[:, None])
        self.coef_ = np.stack(
            [np.linalg.solve(G + lam[k] * np.eye(G.shape[0]), B[:, k]) for k in range(Y.shape[1])]
        )
        return self

    def __sklearn_clone__(self):
        return KernelRidgeRefit(rule=self.rule)  # the rule is read-only: no deep copy


KERNEL_RULES[KernelRidgeRefit] = lambda est: est.rule.with_coef(est.coef_)
