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

One output and dense ``X`` (binary classifiers, single-target regressors):
the per-row weights are folded into a cached weighted design
``X̃_w = [X ⊙ ŵ, ŵ]`` (``InfluenceExplainer._weighted_train_design``), so that a
chunk of the result is ONE GEMM ``Sᵀ X̃_wᵀ`` written straight into the output
(no pass scaling columns, none adding the intercept, no copy); ``newton``'s
loss change then overwrites those shifts in place (a Numba kernel per loss
family, ``rule.loss_change_into``).
"""

import numpy as np
import scipy.sparse as sp

from ._blas import gemm
from ._edits import group_params_shift
from ._linalg import SINGULAR_TOL, solve_or_nan

#: ``1 − hᵢ`` below this (relative) is rounding: the row alone determines a
#: parameter, and removing it leaves the model undefined (``newton`` → NaN).
LEVERAGE_ONE_TOL = SINGULAR_TOL


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
        w[undefined] = np.nan
        return w, undefined
    return solve_or_nan(np.eye(grad.shape[1]) - C @ M, grad, LEVERAGE_ONE_TOL)


def _group_chunk(expl, members, chunk):
    """``Δθ_G`` of the groups ``members[chunk]`` (a joblib task); NaN where undefined."""
    return group_params_shift(expl, members[chunk], expl.method)[0]


def _leverage_chunk(inverse, design, rows, chunk):
    """``M_i`` for the training rows ``rows[chunk]`` (a joblib task)."""
    return inverse.leverage_blocks(design.rows(rows[chunk]))


def fused_applies(expl):
    """Whether influence goes through the weighted design: one output, dense ``X``."""
    return expl._rule.n_outputs == 1 and not sp.issparse(expl._design.X)


def _fused_product(expl, B, out):
    """``out ← Bᵀ X̃_wᵀ`` for ``B`` (p̃, m): ``out[j, i] = ŵᵢ · b_jᵀ x̃ᵢ``, one GEMM.

    ``Bᵀ`` and ``X̃_wᵀ`` are transposed views (F-ordered), which BLAS reads in
    place; ``out`` is C-contiguous and written directly.
    """
    return gemm(B.T, expl._weighted_train_design().T, out=out)


def solve_test(expl, Xt):
    """``H⁻¹`` applied to the test rows, as :func:`_test_shift` consumes it.

    One output and dense ``X``: ``H⁻¹ X̃_testᵀ`` (p̃, m); decoupled outputs:
    (K, p̃, m); coupled: (K, p̃, K m) with ``S[j][:, k-th block] = (H⁻¹)_jk X̃_testᵀ``.
    """
    rule, inverse = expl._rule, expl._inverse
    K, m = rule.n_outputs, Xt.shape[0]
    if fused_applies(expl):
        return inverse.solve(Xt.T[None])[0]
    if not inverse.coupled:
        return inverse.solve(np.repeat(Xt.T[None], K, axis=0))
    E = np.zeros((K, Xt.shape[1], K * m))
    for k in range(K):
        E[k, :, k * m : (k + 1) * m] = Xt.T
    return inverse.solve(E)


def _test_shift(expl, W, Xt, n, rows=None, S=None):
    """``Δz_test`` of shape (K, m, n): ``Σ_l ŵ_il · x̃_testᵀ (H⁻¹)_kl x̃ᵢ``.

    ``rows`` (a slice of training rows) restricts ``i`` to them: shape
    (K, m, len(rows)), for callers that reduce over the training rows in
    chunks; ``S`` is :func:`solve_test`'s result when they computed it once.
    """
    rule, inverse, design = expl._rule, expl._inverse, expl._design
    if rows is not None:
        design, W = design.rows(rows), W[rows]
        n = design.n_samples
    K, m = rule.n_outputs, Xt.shape[0]
    if S is None:
        S = solve_test(expl, Xt)
    if fused_applies(expl):
        dZ = np.empty((1, m, n))
        if rows is None:
            _fused_product(expl, S, dZ[0])
        else:
            np.matmul(S.T, expl._weighted_train_design()[rows].T, out=dZ[0])
        return dZ
    dZ = np.zeros((K, m, n))
    if not inverse.coupled:
        for k in range(K):
            A = design.rdot(S[k].T)
            A *= W[:, k]
            dZ[k] = A
    else:
        for j in range(K):
            A = design.rdot(S[j].T).reshape(K, m, n)
            A *= W[:, j]
            dZ += A
    return dZ


def _shift_bound(expl, Xt, S):
    """``(t, r)`` with ``|Δz_ji| ≤ t_j rᵢ``, or None when ``H⁻¹`` is not exact.

    Cauchy–Schwarz in the inner product of ``H⁻¹`` (``H`` is positive
    definite): ``|ŵᵢ x̃_jᵀ H⁻¹ x̃ᵢ| ≤ √(x̃_jᵀ H⁻¹ x̃_j) · |ŵᵢ| √(x̃ᵢᵀ H⁻¹ x̃ᵢ)``,
    with ``S = H⁻¹ X̃_testᵀ`` and the training leverages ``Mᵢ`` already at
    hand. Only for the factorising solvers, whose ``S`` and ``M`` are exact.
    """
    if expl.solver_ not in ("cholesky", "dual"):
        return None
    t = np.sqrt(np.maximum(np.einsum("kj,jk->j", S, Xt), 0.0))
    r = np.abs(expl._train_weights()[:, 0]) * np.sqrt(np.maximum(expl._leverage[:, 0, 0], 0.0))
    return t, r


def fused_in_place(expl, target):
    """Whether ``_influence_chunk`` fills its rows with one GEMM (and a loss kernel).

    One output, dense ``X``, and a target that is the shift itself
    (``decision_function``; ``predict`` of a regressor) or the loss.
    """
    if not fused_applies(expl):
        return False
    if target.name == "predict":
        return not hasattr(expl._rule, "classes")
    return target.name in ("loss", "decision_function")


def target_change_on_rows(expl, Xt, S, target, rows):
    """``target(z_test + Δz) − target(z_test)`` for the training rows ``rows`` only.

    ``Xt`` is the dense test design, ``S = solve_test(expl, Xt)`` (computed
    once by the caller), ``target`` one that needs no labels. Shape
    (m, len(rows)[, width]): callers reduce over the training rows chunk by
    chunk (metrics) with temporaries of the chunk's size, not the result's.
    """
    rule = expl._rule
    Zt = (Xt @ rule.coef.T)[:, None, :]
    W = expl._train_weights()
    dZ = _test_shift(expl, W, Xt, expl.n_train_, rows, S).transpose(1, 2, 0)
    if expl.method == "first_order":
        return target.linear_change(rule, None, Zt, dZ)
    return target.change(rule, None, Zt, dZ)


def _influence_chunk(expl, design_t, Yt, target, rows, out=None):
    """Rows ``rows`` of ``influence`` (a joblib task; see ``InfluenceExplainer.influence``).

    Writes into ``out`` (the rows' slice of the result) when given, else
    returns a new array.
    """
    rule, inverse = expl._rule, expl._inverse
    n = expl.n_train_
    Xt = design_t.dense_rows(rows)  # (m, p̃)
    Yr = None if Yt is None else Yt[rows]
    Zt = Xt @ rule.coef.T  # (m, K)
    if fused_in_place(expl, target):
        # Δz_ji = ŵᵢ x̃_jᵀ H⁻¹ x̃ᵢ, and the first-order loss ŵᵢ (r_j x̃_j)ᵀ H⁻¹ x̃ᵢ:
        # one GEMM against X̃_w into the output, then (newton) the loss in place
        if out is None:
            out = np.empty((Xt.shape[0], n))
        first_order_loss = expl.method == "first_order" and target.name == "loss"
        B = Xt * rule.loss_gradient(Yr, Zt) if first_order_loss else Xt
        S = inverse.solve(B.T[None])[0]
        _fused_product(expl, S, out)
        if target.name == "loss" and expl.method == "newton":
            rule.loss_change_into(Yr, Zt, out, _shift_bound(expl, Xt, S))
        return out
    result = _influence_chunk_general(expl, Xt, Yr, Zt, target, n)
    if out is None:
        return result
    out[...] = result
    return out


def _influence_chunk_general(expl, Xt, Yr, Zt, target, n):
    """``_influence_chunk`` for several outputs or sparse ``X``, and the other targets."""
    rule, inverse, design = expl._rule, expl._inverse, expl._design
    K = rule.n_outputs
    W = expl._train_weights()
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
