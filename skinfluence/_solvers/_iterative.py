"""Matrix-free inverse-Hessian application: conjugate gradients and LiSSA.

Both see the Hessian only through :class:`HessianOperator` and right-hand
sides of shape ``(K, p̃, r)``, and plug into the explainer exactly as the
Cholesky inverses do (``solve`` and ``leverage_blocks``).
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._design import row_chunks
from ._kernels import lissa_repeats


class LissaDivergenceError(ArithmeticError):
    """LiSSA's recursion diverged: ``scale`` is too small for some mini-batch Hessian."""


def conjugate_gradient(op, B, tol=1e-10, maxiter=None):
    """Solve ``H X = B`` for every column of ``B`` at once (batched, Jacobi-preconditioned CG).

    Each right-hand side column runs its own conjugate-gradient recursion
    (its own step sizes), but all columns share each Hessian product, so an
    iteration is one matrix-matrix product (BLAS-3 or one Numba pass) instead
    of ``r`` matrix-vector products. Columns stop when
    ``‖b − H x‖ ≤ tol · ‖b‖``. (Block CG proper, which shares one Krylov space
    between columns, converges in fewer iterations for clustered spectra but
    needs rank-revealing re-orthogonalisation; with one product per
    iteration either way the batched form is simpler and as fast here.)

    Returns
    -------
    X : ndarray, same shape as B
    info : dict with ``n_iter`` and ``residual`` (the largest relative residual)
    """
    K, d, r = B.shape
    maxiter = 10 * K * d if maxiter is None else maxiter
    M = op.diagonal()[:, :, None]
    X = np.zeros_like(B)
    R = B.copy()
    b_norm = np.sqrt(np.einsum("kdr,kdr->r", B, B))
    Zp = R / M
    P = Zp.copy()
    rz = np.einsum("kdr,kdr->r", R, Zp)
    active = np.flatnonzero(b_norm > 0)
    rel = np.zeros(r)
    n_iter = 0
    for n_iter in range(1, maxiter + 1):  # noqa: B007
        if active.size == 0:
            n_iter -= 1
            break
        Pa = P[:, :, active]
        AP = op.matvec(Pa)
        alpha = rz[active] / np.einsum("kdr,kdr->r", Pa, AP)
        X[:, :, active] += alpha * Pa
        R[:, :, active] -= alpha * AP
        res = np.sqrt(np.einsum("kdr,kdr->r", R[:, :, active], R[:, :, active]))
        rel[active] = res / b_norm[active]
        Za = R[:, :, active] / M
        rz_new = np.einsum("kdr,kdr->r", R[:, :, active], Za)
        beta = rz_new / rz[active]
        P[:, :, active] = Za + beta * Pa
        rz[active] = rz_new
        active = active[rel[active] > tol]
    info = {"n_iter": n_iter, "residual": float(rel.max(initial=0.0))}
    if active.size:
        warnings.warn(
            f"Conjugate gradients stopped after maxiter={maxiter} iterations with a "
            f"relative residual of {info['residual']:.2e} (tol={tol:.0e}) on "
            f"{active.size} of {r} right-hand sides: those influence values are "
            "inaccurate. Increase solver_params['maxiter'], add damping (a better "
            "conditioned Hessian), or use solver='cholesky'.",
            ConvergenceWarning,
            stacklevel=4,
        )
    return X, info


def largest_batch_eigenvalue_bound(op, batch_size):
    """An upper bound on ``λ_max`` of every mini-batch Hessian estimate.

    ``H_B = (n/|B|) Σ_{i∈B} x̃ᵢ Wᵢ x̃ᵢᵀ + Λ`` has
    ``λ_max(H_B) ≤ (n/|B|) Σ_{i∈B} λ_max(Wᵢ) ‖x̃ᵢ‖² + max Λ``, and the sum is at
    most that of the ``|B|`` largest per-row terms: for linear models this
    costs one pass over the rows. For ``|B| = 1`` it is
    ``n · maxᵢ λ_max(Wᵢ)‖x̃ᵢ‖²``.
    """
    design = op.design
    X = design.X
    sq = np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X) else np.einsum("ij,ij->i", X, X)
    if design.fit_intercept:
        sq = sq + 1.0
    w_max = np.linalg.eigvalsh(op.W).max(axis=1) if not op.decoupled else np.einsum("nkk->nk", op.W).max(axis=1)
    per_row = np.maximum(w_max, 0.0) * sq
    n = per_row.size
    top = np.sort(per_row)[-batch_size:]
    return float(n / batch_size * top.sum() + op.penalty.max() + op.damping)


def _project_null(op, V):
    """Remove the softmax null-space component (mean over outputs of null columns)."""
    if op.null_columns is not None:
        j = op.null_columns
        V[:, j, :] -= V[:, j, :].mean(axis=0)[None]
    return V


def largest_eigenvalue(op, n_iter=30, random_state=0):
    """``λ_max(H)`` on the identifiable subspace, by power iteration (``n_iter`` products).

    Converges from below; :func:`lissa` multiplies it by a safety factor.
    """
    rng = check_random_state(random_state)
    K, d = op.shape
    v = _project_null(op, rng.standard_normal((K, d, 1)))
    lam = 0.0
    for _ in range(n_iter):
        v /= np.linalg.norm(v)
        w = op.matvec(v)
        if op.null_columns is not None:
            w[:, op.null_columns, :] -= (op.tau / K) * v[:, op.null_columns, :].sum(axis=0)[None]
        w = _project_null(op, w)
        lam = float(np.sum(v * w))
        v = w
    return lam


#: ``scale=None`` starts at this multiple of the power-iteration ``λ_max(H)``.
LISSA_SCALE_FACTOR = 1.5


def lissa(op, B, *, recursion_depth=5000, repeats=10, batch_size=50, scale=None,
          random_state=None):
    """``H⁻¹ B`` by LiSSA (Agarwal et al. 2017; Koh & Liang 2017, §3), averaged over ``repeats``.

    The repeats run in parallel threads (Numba ``prange``). Each repeat runs
    ``v_t = b + (I − H_{B_t} / scale) v_{t−1}`` for
    ``recursion_depth`` steps on fresh mini-batches ``B_t`` of ``batch_size``
    rows and returns ``v_t / scale``; the damping is that of the operator.
    The error after ``t`` steps decays like ``(1 − λ_min/scale)^t``, so
    ``scale`` should be as small as stability allows.

    ``scale=None`` chooses it: ``1.5 λ_max(H)`` (power iteration, 30 Hessian
    products); if the recursion diverges, the scale is doubled and the run
    restarted, up to ``λ̄/2`` where ``λ̄`` bounds every mini-batch Hessian's
    largest eigenvalue (:func:`largest_batch_eigenvalue_bound`, one pass over
    the rows: for linear models the per-row curvature is explicit). At
    ``λ̄/2`` every step is a contraction (``λ(H_B) ≤ 2·scale``), so the
    automatic choice cannot end in divergence.

    Divergence is detected, not suffered: with ``‖I − H_B/scale‖ ≤ 1`` an
    iterate satisfies ``‖v_t‖ ≤ (t + 1)‖b‖``; an iterate past that (or not
    finite) stops the run. With a user-given ``scale`` that raises
    :class:`LissaDivergenceError`.

    Returns
    -------
    X : ndarray, same shape as B
    info : dict with the ``scale`` used
    """
    X = op.design.X  # dense: make_inverse refuses sparse X for LiSSA
    n = op.design.n_samples
    batch_size = min(batch_size, n)
    rng = check_random_state(random_state)
    B_null = np.zeros_like(B)
    if op.null_columns is not None:
        # Softmax null directions: every mini-batch Hessian vanishes there, so the
        # recursion would grow linearly along them. Solve on the complement and
        # apply the τ-regularised inverse (1/τ) to the null component exactly.
        j = op.null_columns
        B_null[:, j, :] = B[:, j, :].mean(axis=0)[None]
        B = B - B_null
    X = np.ascontiguousarray(X, dtype=np.float64)
    B = np.ascontiguousarray(B)
    if scale is None:
        safe = 0.5 * largest_batch_eigenvalue_bound(op, batch_size)
        scales = [LISSA_SCALE_FACTOR * largest_eigenvalue(op, random_state=rng)]
        while scales[-1] < safe:
            scales.append(min(2 * scales[-1], safe))
    else:
        scales = [float(scale)]
    for current in scales:
        # the repeats run in parallel threads; drawn at once, the batches are
        # the same stream as drawn repeat by repeat
        batches = rng.randint(0, n, size=(repeats, recursion_depth, batch_size)).astype(np.int64)
        runs = lissa_repeats(
            X, op.design.fit_intercept, op.W, op.penalty, B,
            float(current), op.damping, batches, float(n),
        )
        if np.all(np.isfinite(runs)):
            total = runs.sum(axis=0)
            break
    else:
        raise LissaDivergenceError(
            f"LiSSA diverged with scale={scales[-1]:.4g}: some mini-batch Hessian has "
            "an eigenvalue above twice the scale. Increase solver_params['scale'] (or "
            "leave it None for the automatic choice), or increase 'batch_size'."
        )
    result = total / repeats
    if op.null_columns is not None:
        j = op.null_columns
        result[:, j, :] -= result[:, j, :].mean(axis=0)[None]
        result += B_null / op.tau
    return result, {"scale": float(current)}


class IterativeInverse:
    """``H⁻¹`` applied by an iterative method on a :class:`HessianOperator`.

    Parameters
    ----------
    operator : HessianOperator
    method : callable ``(operator, B) -> (X, info)``
    coupled : bool
    name : str
    """

    def __init__(self, operator, method, coupled, name):
        self.operator = operator
        self.method = method
        self.coupled = coupled
        self.name = name
        self.info = {}

    def solve(self, B):
        X, self.info = self.method(self.operator, np.asarray(B, dtype=np.float64))
        return X

    def diagnostic_solve(self, B):
        """``H⁻¹ B`` to three digits by conjugate gradients, whatever the solver.

        For the stationarity check, a ratio that needs an order of magnitude,
        not LiSSA's sampling noise nor a full-accuracy solve.
        """
        B = np.asarray(B, dtype=np.float64)
        return conjugate_gradient(self.operator, B, tol=1e-3)[0]

    def leverage_blocks(self, design):
        """``M_i[k, l] = x̃ᵢᵀ (H⁻¹)_{kl} x̃ᵢ``: ``K`` solves per row, batched by chunks of rows.

        Cost: ``n K`` right-hand sides (``n`` when decoupled, only the diagonal
        blocks being needed), each ``n_iter`` Hessian products; this is the
        expensive part of ``self_influence`` without a factorisation.
        """
        K, d = self.operator.K, design.n_columns
        M = np.zeros((design.n_samples, K, K))
        width = K if self.coupled else 1
        for rows in row_chunks(design.n_samples, 8 * 4 * K * d * width):
            Xr = design.dense_rows(rows)  # (m, d)
            m = Xr.shape[0]
            if self.coupled:
                E = np.zeros((K, d, K * m))
                for k in range(K):
                    E[k, :, k * m : (k + 1) * m] = Xr.T
                S = self.solve(E)  # S[k][:, l·m + i] = (H⁻¹)_kl x̃ᵢ
                for k in range(K):
                    M[rows, k, :] = np.einsum("jli,ij->il", S[k].reshape(d, K, m), Xr)
            else:
                S = self.solve(np.repeat(Xr.T[None], K, axis=0))
                for k in range(K):
                    M[rows, k, k] = np.einsum("ji,ij->i", S[k], Xr)
        return M
