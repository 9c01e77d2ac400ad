"""The contractions behind the explainer: per-row weights and prediction shifts.

Everything here is a pure function of the explainer's fitted state (the
rule, the inverse Hessian, the per-row gradients, curvatures and leverages)
and a chunk of rows; the explainer composes them and owns chunking, joblib
and the output buffers. With ``Δθᵢ = H⁻¹ (ŵᵢ ⊗ x̃ᵢ)`` for per-row weights
``ŵᵢ`` (``K`` numbers), every question is a contraction:

- ``Δz_test = Σ_l ŵ_il · x̃_testᵀ (H⁻¹)_kl x̃ᵢ`` (:func:`_test_shift`), one GEMM
  per output against the training rows;
- the first-order loss folds the test gradient into the right-hand side, so
  the ``(n_test, n_train)`` result is one GEMM per output with no ``K``-fold
  temporary (:func:`_influence_chunk`).
"""

import numpy as np

from ._edits import group_params_shift

#: ``1 − hᵢ`` below this (relative) is rounding: the row alone determines a
#: parameter, and removing it leaves the model undefined (``newton`` → NaN).
LEVERAGE_ONE_TOL = float(np.sqrt(np.finfo(np.float64).eps))


def _newton_weights(grad, M, C, coupled):
    """``ŵᵢ = (I − Cᵢ Mᵢ)⁻¹ gᵢ``, so that ``(H − Uᵢ Cᵢ Uᵢᵀ)⁻¹ (Uᵢ gᵢ) = H⁻¹ Uᵢ ŵᵢ``.

    Woodbury with ``Uᵢ = I_K ⊗ x̃ᵢ``, ``Cᵢ = c sᵢ ∂²ℓᵢ/∂z²`` and
    ``Mᵢ = Uᵢᵀ H⁻¹ Uᵢ``. For decoupled outputs this is ``gᵢ / (1 − hᵢ)`` per
    output with the leverage ``hᵢ = Cᵢ Mᵢ``.

    Returns the weights and a mask of the rows where ``I − Cᵢ Mᵢ`` is
    singular to rounding (``1 − hᵢ < LEVERAGE_ONE_TOL``, or the smallest
    singular value of ``I − Cᵢ Mᵢ`` below it): the row alone determines a
    parameter, the model without it is undefined, and its weights are NaN.
    """
    if not coupled:
        h = np.einsum("ikk->ik", C) * np.einsum("ikk->ik", M)
        undefined = np.any(1.0 - h < LEVERAGE_ONE_TOL * np.maximum(1.0, np.abs(h)), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(grad == 0, 0.0, grad / (1.0 - h))
    else:
        K = grad.shape[1]
        A = np.eye(K) - C @ M
        sigma = np.linalg.svd(A, compute_uv=False)
        undefined = sigma[:, -1] < LEVERAGE_ONE_TOL * np.maximum(1.0, sigma[:, 0])
        A[undefined] = np.eye(K)
        w = np.linalg.solve(A, grad[:, :, None])[:, :, 0]
    w[undefined] = np.nan
    return w, undefined


def _group_chunk(expl, members, chunk):
    """``Δθ_G`` of the groups ``members[chunk]`` (a joblib task); NaN where undefined."""
    return group_params_shift(expl, members[chunk], expl.method)[0]


def _leverage_chunk(inverse, design, rows, chunk):
    """``M_i`` for the training rows ``rows[chunk]`` (a joblib task)."""
    return inverse.leverage_blocks(design.rows(rows[chunk]))


def _test_shift(expl, W, Xt, n):
    """``Δz_test`` of shape (K, m, n): ``Σ_l ŵ_il · x̃_testᵀ (H⁻¹)_kl x̃ᵢ``."""
    rule, inverse, design = expl._rule, expl._inverse, expl._design
    K, d, m = rule.n_outputs, design.n_columns, Xt.shape[0]
    dZ = np.zeros((K, m, n))
    if not inverse.coupled:
        S = inverse.solve(np.repeat(Xt.T[None], K, axis=0))
        for k in range(K):
            A = design.rdot(S[k].T)
            A *= W[:, k]
            dZ[k] = A
    else:
        E = np.zeros((K, d, K * m))
        for k in range(K):
            E[k, :, k * m : (k + 1) * m] = Xt.T
        S = inverse.solve(E)  # S[j][:, k-th m-block] = (H⁻¹)_jk x̃_test
        for j in range(K):
            A = design.rdot(S[j].T).reshape(K, m, n)
            A *= W[:, j]
            dZ += A
    return dZ


def _influence_chunk(expl, design_t, Yt, target, rows):
    """Rows ``rows`` of ``influence`` (a joblib task; see ``InfluenceExplainer.influence``)."""
    rule, inverse, design = expl._rule, expl._inverse, expl._design
    K, n = rule.n_outputs, expl.n_train_
    W = expl._train_weights()
    Xt = design_t.dense_rows(rows)  # (m, p̃)
    Yr = None if Yt is None else Yt[rows]
    Zt = Xt @ rule.coef.T  # (m, K)
    if expl.method == "first_order" and target.name == "loss":
        # Δℓ = Σ_l ŵ_il · (r_test ⊗ x̃_test)ᵀ H⁻¹ (e_l ⊗ x̃ᵢ): r_test folded into the RHS
        Rt = rule.loss_gradient(Yr, Zt)
        S = inverse.solve(np.stack([(Xt * Rt[:, k, None]).T for k in range(K)]))
        out = None
        for k in range(K):  # in place: the (m, n) temporaries dominate at small p̃
            A = design.rdot(S[k].T)
            A *= W[:, k]
            out = A if out is None else np.add(out, A, out=out)
        return out
    dZ = _test_shift(expl, W, Xt, n).transpose(1, 2, 0)  # (m, n, K)
    Yb = None if Yr is None else Yr[:, None, :]
    if expl.method == "first_order":
        return target.linear_change(rule, Yb, Zt[:, None, :], dZ)
    return target.change(rule, Yb, Zt[:, None, :], dZ)
