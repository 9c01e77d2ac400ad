"""What every linear model shares: parameters, objective, gradients, curvature.

A *rule* is the closed-form calculus of one estimator family. It never solves a
linear system; it only evaluates. Every supported estimator minimises

.. math::

    J(θ) = c · Σ_i s_i · ℓ(y_i, z_i) + ½ Σ_k Σ_j λ_kj · Θ̃_kj²,
    \\qquad z_i = Θ̃ x̃_i ∈ ℝ^K,

where ``x̃_i = [x_i, 1]`` (no 1 without an intercept), ``Θ̃`` is the
``(K, p̃)`` matrix of coefficients with the intercepts in its last column, ``s_i``
is the sample weight times the class weight, ``c`` the estimator's loss scale
(``C`` for LogisticRegression, 1 for Ridge) and ``λ`` the curvature of the L2
penalty (1 for LogisticRegression, ``2·alpha`` for Ridge, ``1/intercept_scaling²``
on the intercept under liblinear, 0 where nothing is penalised).

Because the loss depends on θ only through ``z_i``, the per-sample gradient is
``∇_θ ℓ_i = r_i ⊗ x̃_i`` with ``r_i = ∂ℓ/∂z`` and the per-sample Hessian is
``D_i ⊗ x̃_i x̃_iᵀ`` with ``D_i = ∂²ℓ/∂z²``. The rules of this package have
``D_i`` diagonal (outputs decoupled), so the Hessian of ``J`` is block
diagonal with one ``(p̃, p̃)`` block per output:
``H_k = c · X̃ᵀ diag(s ⊙ D_{:,k}) X̃ + diag(λ_k)``.
"""

import numpy as np

from .._design import DesignMatrix
from .._solvers import BlockDiagonalHessian


class LinearRule:
    """Base class: a fitted linear model seen as ``Θ̃`` plus a loss in ``z``.

    Subclasses implement ``encode_targets``, ``loss``, ``loss_gradient`` and
    ``loss_curvature``. A rule whose outputs interact through the loss
    (softmax) sets ``coupled = True``, returns full ``(…, K, K)`` curvature
    matrices and overrides ``hessian``. A rule whose loss is not twice
    differentiable and uses a smooth stand-in for its derivatives (hinge)
    sets ``smooth_surrogate = True``: its fitted parameters are not a
    stationary point of the surrogate, so there is no stationarity check.

    Parameters
    ----------
    coef : ndarray of shape (n_outputs, n_columns)
        ``Θ̃``: coefficients with the intercepts (if any) in the last column.
    penalty : ndarray of shape (n_outputs, n_columns)
        ``λ``: curvature of the L2 penalty of each parameter.
    scale : float
        ``c``: the factor in front of the sum of sample losses.
    fit_intercept : bool
    """

    coupled = False
    smooth_surrogate = False
    #: False for estimators (SGD) whose own solver stops short of the optimum:
    #: ``loo_refit`` then polishes each refit with Newton's method.
    solver_reaches_optimum = True
    #: True when the estimator was fitted on a 2-D target with one column per
    #: output (multi-target Ridge): ``y`` is then (n, K), else 1-D.
    multi_target = False

    def __init__(self, coef, penalty, scale, fit_intercept):
        self.coef = np.asarray(coef, dtype=np.float64)
        self.penalty = np.broadcast_to(penalty, self.coef.shape).astype(np.float64)
        self.scale = float(scale)
        self.fit_intercept = bool(fit_intercept)

    # ----------------------------------------------------------------- layout
    @property
    def n_outputs(self):
        return self.coef.shape[0]

    @property
    def n_features(self):
        return self.coef.shape[1] - self.fit_intercept

    @property
    def n_params(self):
        return self.coef.size

    def with_coef(self, coef):
        """A copy of this rule at other parameters (the estimator is not touched)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.pop("_decision_memo", None)
        new.coef = np.asarray(coef, dtype=np.float64)
        return new

    def to_public(self, T):
        """Map ``(..., K, p̃)`` arrays to the public layout ``(..., n_params)``.

        The public layout is the estimator's own attributes:
        ``concatenate([coef_.ravel(), intercept_.ravel()])``, coefficients
        row-major, intercepts last, and no intercept when ``fit_intercept=False``.
        """
        T = np.asarray(T)
        lead = T.shape[:-2]
        p = self.n_features
        parts = [T[..., :p].reshape(*lead, self.n_outputs * p)]
        if self.fit_intercept:
            parts.append(T[..., p])
        return np.concatenate(parts, axis=-1)

    @property
    def params(self):
        """θ̂ in the public layout."""
        return self.to_public(self.coef)

    def write_to(self, estimator):
        """Store ``Θ̃`` into ``estimator.coef_`` / ``intercept_`` (a copy, never the user's)."""
        p = self.n_features
        coef = self.coef[:, :p]
        estimator.coef_ = coef.reshape(np.shape(estimator.coef_)).copy()
        if self.fit_intercept:
            estimator.intercept_ = np.reshape(
                self.coef[:, p], np.shape(estimator.intercept_)
            ).copy()
            if np.ndim(estimator.intercept_) == 0:
                estimator.intercept_ = float(estimator.intercept_)

    # ------------------------------------------------------------- per sample
    def design(self, X):
        return DesignMatrix(X, self.fit_intercept)

    def decision(self, design):
        """``Z = X̃ Θ̃ᵀ``, shape (n_samples, n_outputs).

        The last result is remembered (keyed on the identity of ``design``
        and of ``coef``, which is never modified in place): fitting asks for
        the training decision values several times (the Hessian, the
        gradients, the stationarity check), each a pass over ``X``.
        """
        memo = self.__dict__.get("_decision_memo")
        if memo is not None and memo[0] is design and memo[1] is self.coef:
            return memo[2]
        Z = design.dot(self.coef.T)
        Z.flags.writeable = False  # shared by every caller
        self._decision_memo = (design, self.coef, Z)
        return Z

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_decision_memo", None)  # never ship X to joblib workers with a rule
        return state

    def sample_scale(self, y, sample_weight):
        """``s``: sample weight times class weight, shape (n, 1) or (n, K).

        One column when every output weighs a row alike; K columns when the
        weight depends on the output (one-vs-rest: liblinear and SGD weight a
        row by its class weight only in its own class's sub-problem).
        """
        return sample_weight[:, None]

    def encode_targets(self, y):
        """Targets as a float array ``Y`` of shape (n_samples, n_outputs)."""
        raise NotImplementedError

    def loss(self, Y, Z):
        """Per-sample loss, summed over outputs: shape ``Z.shape[:-1]``."""
        return np.sum(self.output_loss(Y, Z), axis=-1)

    def output_loss(self, Y, Z):
        """Loss of each output, same shape as ``Z`` (decoupled rules only)."""
        raise NotImplementedError

    def loss_gradient(self, Y, Z):
        """``r = ∂ℓ/∂z``, same shape as ``Z``."""
        raise NotImplementedError

    def loss_curvature(self, Y, Z):
        """Diagonal of ``D = ∂²ℓ/∂z²``, same shape as ``Z``."""
        raise NotImplementedError

    def loss_change(self, Y, Z, dZ):
        """``ℓ(y, z + Δz) − ℓ(y, z)``, evaluated exactly (not linearised)."""
        return self.loss(Y, Z + dZ) - self.loss(Y, Z)

    #: True when ``loss_change_into`` runs a Numba kernel that allocates
    #: nothing of the size of ``D`` (else it falls back on ``loss_change``).
    loss_change_kernel = False

    def loss_change_into(self, Y, Z, D, bound=None):
        """``D[j, i] ← ℓ(y_j, z_j + D[j, i]) − ℓ(y_j, z_j)`` in place, one output.

        ``Y`` and ``Z`` have shape (m, 1), ``D`` (m, n) holds the shifts of
        the decision values. This fallback goes through ``loss_change`` (with
        temporaries of the size of ``D``); rules with ``loss_change_kernel``
        overwrite ``D`` elementwise without them. ``bound``, when known, is
        ``(row, col)`` with ``|D[j, i]| ≤ row[j]·col[i]`` (the series kernels
        choose their degree from it).
        """
        D[...] = self.loss_change(Y[:, None, :], Z[:, None, :], D[:, :, None])

    # -------------------------------------------------------------- objective
    def objective(self, design, Y, s):
        """``J(θ̂)`` at the rule's parameters."""
        Z = self.decision(design)
        losses = self.loss(Y, Z)[:, None] if s.shape[1] == 1 else self.output_loss(Y, Z)
        return self.scale * np.sum(s * losses) + 0.5 * np.sum(self.penalty * self.coef**2)

    def objective_gradient(self, design, Y, s):
        """``∇J(θ̂)`` as a (K, p̃) array: ``c · X̃ᵀ (s ⊙ r) + λ ⊙ Θ̃``."""
        R = self.loss_gradient(Y, self.decision(design))
        return (self.scale * design.tdot(s * R)).T + self.penalty * self.coef

    def curvature_matrix(self, Y, Z):
        """``D = ∂²ℓ/∂z²`` as (..., K, K) matrices, whatever the rule's structure."""
        D = self.loss_curvature(Y, Z)
        if self.coupled:
            return D
        return D[..., :, None] * np.eye(self.n_outputs)

    #: Columns ``j`` along which the objective is flat in ``1_K ⊗ e_j`` (see
    #: ``FullHessian``); None when the Hessian has no structural null space.
    null_columns = None

    def curvature_weights(self, design, Y, s):
        """``Wᵢ = c sᵢ ∂²ℓᵢ/∂z²`` as (n, K, K): ``H = Σᵢ Wᵢ ⊗ x̃ᵢx̃ᵢᵀ + diag(λ)``."""
        Z = self.decision(design)
        return self.scale * s[:, :, None] * self.curvature_matrix(Y, Z)

    def hessian(self, design, Y, s):
        """``∇²J(θ̂)`` with its per-output structure.

        For decoupled outputs a :class:`BlockDiagonalHessian` whose blocks are
        ``H_k = c · X̃ᵀ diag(s ⊙ D_{:,k}) X̃ + diag(λ_k)``; outputs that share
        the curvature and the penalty (multi-target Ridge) share one block, so
        it is assembled and factorised once.
        """
        weights = self.scale * s * self.loss_curvature(Y, self.decision(design))
        blocks, keys, block_of_output = [], [], []
        for k in range(self.n_outputs):
            for b, (w, lam) in enumerate(keys):
                if np.array_equal(w, weights[:, k]) and np.array_equal(lam, self.penalty[k]):
                    block_of_output.append(b)
                    break
            else:
                keys.append((weights[:, k], self.penalty[k]))
                block_of_output.append(len(blocks))
                H = design.gram(weights[:, k])
                H[np.diag_indices_from(H)] += self.penalty[k]
                blocks.append(H)
        return BlockDiagonalHessian(blocks, block_of_output)
