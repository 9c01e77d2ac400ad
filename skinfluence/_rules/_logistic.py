"""Binary logistic regression: ``ℓ(y, z) = log(1 + exp(z)) − y·z``, y ∈ {0, 1}.

scikit-learn's ``LogisticRegression`` minimises
``C · Σ_i s_i ℓ(y_i, z_i) + ½‖w‖²`` (``s_i`` = sample_weight × class_weight of
``y_i``); with ``C=np.inf`` the penalty is dropped and the scale is 1. The
intercept is not penalised, except by liblinear, which appends the constant
``intercept_scaling = a`` to every sample and penalises the weight ``b/a`` of that
column: in terms of ``intercept_`` the penalty is ``½·b²/a²``.

Derivatives in ``z`` (σ the logistic sigmoid): ``r = σ(z) − y``,
``D = σ(z)(1 − σ(z))``.
"""

import numpy as np
from scipy.special import expit, logsumexp, softmax

from .._design import BLAS_CHUNK_ROWS, row_chunks
from .._solvers import FullHessian
from .._solvers._structured import SoftmaxHessian
from ._base import LinearRule
from ._classes import ClassLabelsMixin
from ._loss_kernels import softplus_change, softplus_diff_np


def effective_penalty(estimator):
    """The penalty LogisticRegression actually applies: ``"l2"``, ``None`` or other.

    Mirrors ``LogisticRegression.fit`` (scikit-learn >= 1.8, where ``penalty``
    is deprecated in favour of ``l1_ratio`` and ``C=np.inf``).
    """
    penalty = getattr(estimator, "penalty", "deprecated")
    if penalty is None or estimator.C == np.inf:
        return None
    if penalty == "deprecated":
        l1_ratio = getattr(estimator, "l1_ratio", 0.0)
        return "l2" if l1_ratio in (0, None) else "l1 or elasticnet"
    return penalty


_PENALTY_NAMES = {
    "l1": "an L1",
    "elasticnet": "an elastic-net",
    "l1 or elasticnet": "an L1 or elastic-net",
}


def _check_penalty(estimator):
    penalty = effective_penalty(estimator)
    if penalty not in ("l2", None):
        raise ValueError(
            f"LogisticRegression with {_PENALTY_NAMES.get(penalty, repr(penalty))} "
            "penalty is not supported: its "
            "objective is not twice differentiable. Use an L2 penalty "
            "(l1_ratio=0) or none (C=np.inf)."
        )
    return penalty


def _logistic_parameters(estimator):
    """``(Θ̃, λ, c, fit_intercept)`` of a fitted LogisticRegression."""
    penalty = _check_penalty(estimator)
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    fit_intercept = bool(estimator.fit_intercept)
    lam = np.ones(coef.shape[1] + fit_intercept)
    if fit_intercept:
        intercept = np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1, 1)
        coef = np.hstack([coef, intercept])
        liblinear = estimator.solver == "liblinear"  # binary only in scikit-learn >= 1.8
        lam[-1] = 1.0 / estimator.intercept_scaling**2 if liblinear else 0.0
    if penalty is None:
        return coef, 0.0 * lam[None, :], 1.0, fit_intercept
    return coef, lam[None, :], estimator.C, fit_intercept


class BinaryLogisticRule(ClassLabelsMixin, LinearRule):
    """Calculus of a fitted binary ``LogisticRegression``."""

    def __init__(self, estimator):
        LinearRule.__init__(self, *_logistic_parameters(estimator))
        self._init_classes(estimator)

    def encode_targets(self, y):
        return (self.encode_labels(y) == 1).astype(np.float64)[:, None]

    def output_loss(self, Y, Z):
        return np.logaddexp(0.0, Z) - Y * Z

    loss_change_kernel = True

    def loss_change(self, Y, Z, dZ):
        """``sp(z + Δ) − sp(z) − yΔ`` (``sp(x) = log(1 + eˣ)``), free of cancellation.

        For ``y = 1`` it is ``sp(−z − Δ) − sp(−z)``; each softplus difference
        is ``log1p(σ(u)·expm1(δ))`` for ``|δ| ≤ 1`` (see ``_loss_kernels``).
        """
        change = np.where(Y == 1, softplus_diff_np(-Z, -dZ), softplus_diff_np(Z, dZ) - Y * dZ)
        return np.sum(change, axis=-1)

    def loss_change_into(self, Y, Z, D, bound=None):
        """In place by the softplus kernel: ``D(u, δ)`` with ``u = ±z``, ``δ = ±Δ``."""
        y = Y[:, 0]
        if not np.all((y == 0) | (y == 1)):
            return super().loss_change_into(Y, Z, D)
        sign = 1.0 - 2.0 * y
        softplus_change(D, sign, np.ascontiguousarray(sign * Z[:, 0]), bound)
        return None

    def loss_gradient(self, Y, Z):
        return expit(Z) - Y

    def loss_curvature(self, Y, Z):
        P = expit(Z)
        return P * (1.0 - P)

    def predict_proba(self, Z):
        """``[1 − σ(z), σ(z)]``, as ``LogisticRegression.predict_proba``."""
        p = expit(Z[..., 0])
        return np.stack([1.0 - p, p], axis=-1)

    def proba_jvp(self, Z, dZ):
        """``∂p/∂z · Δz``: ``σ(z)(1 − σ(z)) Δz`` for class 1, its negative for class 0."""
        p = expit(Z[..., 0])
        a = p * (1.0 - p) * dZ[..., 0]
        return np.stack([-a, a], axis=-1)


#: How the multinomial Hessian is parametrised: ``"K-1"`` (the default:
#: :class:`SoftmaxHessian`, the ``(K − 1) p̃`` identifiable subspace, when every
#: output has the same penalty) or ``"K"`` (:class:`FullHessian`, the full
#: ``K p̃`` matrix with its null space fixed; kept for comparison). Read at
#: call time, so a benchmark or a test can switch it.
MULTINOMIAL_PARAMETRISATION = "K-1"


class MultinomialLogisticRule(ClassLabelsMixin, LinearRule):
    """Calculus of a fitted ``LogisticRegression`` with three or more classes.

    scikit-learn (>= 1.8) fits these as multinomial with symmetric
    coefficients: ``C · Σ_i s_i ℓ(y_i, z_i) + ½‖W‖²_F`` with the softmax
    cross-entropy ``ℓ(y, z) = logsumexp(z) − z_y`` and unpenalised intercepts.
    Derivatives in ``z`` (``p = softmax(z)``, ``e_y`` one-hot):
    ``r = p − e_y`` and ``D = diag(p) − p pᵀ``, a full K × K matrix, so the
    outputs are coupled and the Hessian is one ``(K p̃)²`` matrix.

    Adding one constant to every intercept (every column when unpenalised)
    changes no probability: the Hessian is singular along those directions.
    No per-sample gradient has a component there (``Σ_k r_k = 0``), so the
    solver works on the identifiable subspace; see ``FullHessian``.
    """

    coupled = True

    def __init__(self, estimator):
        LinearRule.__init__(self, *_logistic_parameters(estimator))
        self._init_classes(estimator)

    @property
    def null_columns(self):
        return self.penalty[0] == 0

    def encode_targets(self, y):
        codes = self.encode_labels(y)
        return np.eye(len(self.classes))[codes]

    def loss(self, Y, Z):
        return logsumexp(Z, axis=-1) - np.sum(Y * Z, axis=-1)

    def loss_gradient(self, Y, Z):
        return softmax(Z, axis=-1) - Y

    def loss_curvature(self, Y, Z):
        P = softmax(Z, axis=-1)
        return P[..., :, None] * (np.eye(P.shape[-1]) - P[..., None, :])

    def predict_proba(self, Z):
        """``softmax(z)``, as ``LogisticRegression.predict_proba``."""
        return softmax(Z, axis=-1)

    def proba_jvp(self, Z, dZ):
        """``∂p/∂z · Δz = p ⊙ (Δz − pᵀΔz)``."""
        P = softmax(Z, axis=-1)
        return P * (dZ - np.sum(P * dZ, axis=-1, keepdims=True))

    def hessian(self, design, Y, s):
        """``H = C Σᵢ sᵢ Dᵢ ⊗ x̃ᵢx̃ᵢᵀ + I_K ⊗ diag(λ)``, by BLAS-3.

        With ``MULTINOMIAL_PARAMETRISATION = "K-1"`` and one penalty for
        every class (L2 or none), a :class:`SoftmaxHessian`: only the
        ``(K − 1) p̃`` block on the identifiable subspace ``1⊥ ⊗ R^p̃``
        (``Dᵢ 1 = 0``), ``(K − 1)K/2`` block products. Otherwise (or an
        elastic-net active set, whose pinned zeros differ by class) the full
        matrix, see :meth:`full_hessian`.
        """
        if MULTINOMIAL_PARAMETRISATION == "K-1" and np.all(self.penalty == self.penalty[0]):
            curvature = self.scale * s[:, :, None] * self.loss_curvature(Y, self.decision(design))
            return SoftmaxHessian.assemble(
                design, curvature, self.penalty[0], null_columns=self.null_columns
            )
        return self.full_hessian(design, Y, s)

    def full_hessian(self, design, Y, s):
        """``H[(k,·),(j,·)] = C · X̃ᵀ diag(s ⊙ D_kj) X̃ + δ_kj diag(λ)``, by BLAS-3.

        Per chunk of rows and per output ``k``, one GEMM
        ``X̃ᵀ [D_kk X̃, D_k,k+1 X̃, …]`` fills the upper block row at once
        (``K²/2 · n p̃²`` flops in all); the lower blocks are its transpose.
        """
        K, d = self.n_outputs, self.coef.shape[1]
        Z = self.decision(design)
        H = np.zeros((K * d, K * d))
        for rows in row_chunks(design.n_samples, 8 * (K + 2) * d, BLAS_CHUNK_ROWS):
            Xc = design.dense_rows(rows)
            W = self.scale * s[rows, :, None] * self.loss_curvature(Y[rows], Z[rows])
            for k in range(K):
                B = (W[:, k, k:, None] * Xc[:, None, :]).reshape(Xc.shape[0], (K - k) * d)
                H[k * d : (k + 1) * d, k * d :] += Xc.T @ B
        upper = np.triu_indices(K * d, 1)
        H[upper[1], upper[0]] = H[upper]
        H[np.diag_indices_from(H)] += self.penalty.ravel()
        return FullHessian(H, K, null_columns=self.null_columns)
