"""Hessians with per-output structure, and their inverses.

Parameters are arranged as a ``(K, p̃)`` array ``Θ̃`` (one row per model
output, intercept last) and flattened row-major, so the Hessian of a linear
model is a ``K × K`` grid of ``p̃ × p̃`` blocks. Two structures occur:

- block diagonal (outputs decoupled: binary models, multi-target Ridge,
  one-vs-rest LinearSVC/SGD): each output is solved alone, and outputs with
  identical blocks share one factorisation;
- full (multinomial logistic regression), possibly singular along known
  directions that no gradient has a component on.

Everything here sees matrices and right-hand sides of shape ``(K, p̃, r)``;
nothing knows about estimators.
"""

import numpy as np

from .._design import BLAS_CHUNK_ROWS, row_chunks
from ._cholesky import CholeskySolver


class BlockDiagonalHessian:
    """``H = blockdiag(H_1, …, H_K)``.

    Parameters
    ----------
    blocks : list of ndarray of shape (p̃, p̃)
        The distinct blocks.
    block_of_output : ndarray of shape (K,)
        ``H_k = blocks[block_of_output[k]]``.
    """

    def __init__(self, blocks, block_of_output):
        self.blocks = blocks
        self.block_of_output = np.asarray(block_of_output)

    def factorize(self, damping=0.0, solver=CholeskySolver):
        solvers = []
        for H in self.blocks:
            H = H.copy()
            H[np.diag_indices_from(H)] += damping
            solvers.append(solver(H, overwrite=True))
        return BlockDiagonalInverse(solvers, self.block_of_output)


class FullHessian:
    """A dense ``(K p̃, K p̃)`` Hessian with a known null space.

    Parameters
    ----------
    matrix : ndarray of shape (K p̃, K p̃)
    n_outputs : int
    null_columns : ndarray of bool of shape (p̃,), default=None
        Columns ``j`` along which adding the same constant to every output's
        parameter changes nothing (multinomial softmax: the intercepts, and
        every column when unpenalised). The Hessian is singular along
        ``v_j = 1_K ⊗ e_j / √K`` and no per-sample gradient has a component
        there (``Σ_k r_k = 0``). Factorising ``H + τ Σ_j v_j v_jᵀ`` (τ the mean
        diagonal of ``H``) makes it positive definite without changing any
        solve with a right-hand side orthogonal to the ``v_j``: the result is
        exactly the solution on the identifiable subspace (the one with
        centred parameters, as scikit-learn reports them).
    """

    def __init__(self, matrix, n_outputs, null_columns=None):
        self.matrix = matrix
        self.n_outputs = n_outputs
        self.null_columns = null_columns

    def factorize(self, damping=0.0, solver=CholeskySolver):
        K = self.n_outputs
        H = self.matrix.copy()
        d = H.shape[0] // K
        H[np.diag_indices_from(H)] += damping
        if self.null_columns is not None and np.any(self.null_columns):
            tau = np.mean(np.diag(self.matrix))
            for j in np.flatnonzero(self.null_columns):
                idx = np.arange(K) * d + j
                H[np.ix_(idx, idx)] += tau / K
        return FullInverse(solver(H, overwrite=True), K)


class BlockDiagonalInverse:
    """Applies ``blockdiag(H_k)⁻¹`` to right-hand sides of shape (K, p̃, r)."""

    coupled = False

    def __init__(self, solvers, block_of_output):
        self.solvers = solvers
        self.block_of_output = block_of_output
        self.name = solvers[0].name

    def solve(self, B):
        out = np.empty_like(B, dtype=np.float64)
        for b, solver in enumerate(self.solvers):
            ks = np.flatnonzero(self.block_of_output == b)
            r = B.shape[2]
            # outputs sharing a block are solved together: one call, K·r columns
            rhs = B[ks].transpose(1, 0, 2).reshape(B.shape[1], ks.size * r)
            out[ks] = solver.solve(rhs).reshape(B.shape[1], ks.size, r).transpose(1, 0, 2)
        return out

    def leverage_blocks(self, design):
        """``M_i[k, l] = x̃ᵢᵀ (H⁻¹)_{kl} x̃ᵢ``: diagonal here, one triangular solve per block."""
        K = self.block_of_output.size
        M = np.zeros((design.n_samples, K, K))
        diag = np.arange(K)
        for rows in row_chunks(design.n_samples, 8 * 2 * design.n_columns, BLAS_CHUNK_ROWS):
            Xr = design.dense_rows(rows).T
            for b, solver in enumerate(self.solvers):
                w = solver.whiten(Xr)
                q = np.einsum("ij,ij->j", w, w)
                ks = np.flatnonzero(self.block_of_output == b)
                M[rows, diag[ks], diag[ks]] = q[:, None]
        return M


class FullInverse:
    """Applies ``H⁻¹`` for a full (coupled) ``(K p̃, K p̃)`` Hessian."""

    coupled = True

    def __init__(self, solver, n_outputs):
        self.solver = solver
        self.n_outputs = n_outputs
        self.name = solver.name

    def solve(self, B):
        K, d, r = B.shape
        return self.solver.solve(B.reshape(K * d, r)).reshape(K, d, r)

    def leverage_blocks(self, design):
        """``M_i[k, l] = x̃ᵢᵀ (H⁻¹)_{kl} x̃ᵢ`` for every row, by BLAS-3.

        Forms ``H⁻¹`` once (``(K p̃)³``), then for each output ``k`` one GEMM
        ``X̃ (H⁻¹)_{k, l≥k}`` per chunk of rows and a row-wise contraction with
        ``X̃``: ``K² n p̃² / 2`` flops in all, the same order as assembling
        the Hessian.
        """
        K, d = self.n_outputs, design.n_columns
        Hinv = self.solver.solve(np.eye(K * d))
        row_blocks = [np.ascontiguousarray(Hinv[k * d : (k + 1) * d, k * d :]) for k in range(K)]
        del Hinv
        M = np.empty((design.n_samples, K, K))
        for rows in row_chunks(design.n_samples, 8 * (K + 1) * d, BLAS_CHUNK_ROWS):
            Xr = design.dense_rows(rows)
            for k in range(K):
                B = (Xr @ row_blocks[k]).reshape(Xr.shape[0], K - k, d)  # x̃ᵀ (H⁻¹)_{k, l≥k}
                M[rows, k, k:] = np.einsum("clj,cj->cl", B, Xr)
                M[rows, k:, k] = M[rows, k, k:]
        return M
