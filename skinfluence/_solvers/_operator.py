"""The Hessian of a linear model as an operator: ``H V`` without forming ``H``."""

import numpy as np
import scipy.sparse as sp

from .._design import BLAS_CHUNK_ROWS, row_chunks
from ._kernels import csr_hessian_product


class HessianOperator:
    """``H V = X̃ᵀ (W ⊙ X̃ V) + (λ + damping) ⊙ V`` for ``V`` of shape (K, p̃, r).

    ``W`` holds each row's K × K curvature weight ``c sᵢ ∂²ℓᵢ/∂z²`` (diagonal
    for decoupled outputs). Dense ``X``: two GEMMs per chunk of rows. CSR
    ``X``: one fused Numba pass (:func:`csr_hessian_product`). Memory: the
    right-hand sides and ``O(chunk · K · r)``; ``H`` (``(K p̃)²``) never exists.

    Parameters
    ----------
    design : DesignMatrix
    W : ndarray of shape (n, K, K)
    penalty : ndarray of shape (K, p̃)
    damping : float
    null_columns : ndarray of bool of shape (p̃,) or None
        Softmax null directions ``v_j = 1_K ⊗ e_j / √K``; ``τ v_j v_jᵀ`` is
        added as in ``FullHessian`` (``τ`` = mean diagonal of ``H``), which
        leaves every solve with a right-hand side orthogonal to them unchanged.
    """

    def __init__(self, design, W, penalty, damping=0.0, null_columns=None):
        self.design = design
        self.W = np.ascontiguousarray(W, dtype=np.float64)
        self.K = W.shape[1]
        self.decoupled = bool(np.all(W == np.einsum("nkk->nk", W)[:, :, None] * np.eye(self.K)))
        self.penalty = penalty
        self.damping = float(damping)
        self.null_columns = None
        diag = self._data_diagonal() + penalty
        if null_columns is not None and np.any(null_columns):
            self.null_columns = np.flatnonzero(null_columns)
            self.tau = float(np.mean(diag))
            diag[:, self.null_columns] += self.tau / self.K
        self._diagonal = diag + self.damping

    @property
    def shape(self):
        return (self.K, self.design.n_columns)

    def diagonal(self):
        """``diag(H)`` as a (K, p̃) array (the Jacobi preconditioner)."""
        return self._diagonal

    def _data_diagonal(self):
        X, d = self.design.X, self.design.n_columns
        Wd = np.einsum("nkk->nk", self.W)
        out = np.zeros((self.K, d))
        p = X.shape[1]
        if sp.issparse(X):
            out[:, :p] = np.asarray((X.multiply(X)).T @ Wd).T
        else:
            for rows in row_chunks(X.shape[0], 8 * p, BLAS_CHUNK_ROWS):
                out[:, :p] += ((X[rows] ** 2).T @ Wd[rows]).T
        if self.design.fit_intercept:
            out[:, p] = Wd.sum(axis=0)
        return out

    def matvec(self, V):
        """``H V`` for ``V`` of shape (K, p̃, r)."""
        K, d, r = V.shape
        X = self.design.X
        out = (self.penalty + self.damping)[:, :, None] * V
        if sp.issparse(X):
            csr_hessian_product(
                X.indptr, X.indices, X.data, self.design.fit_intercept,
                self.W, np.ascontiguousarray(V), out,
            )
        else:
            n = self.design.n_samples
            for rows in row_chunks(n, 8 * 3 * K * r + 8 * d, BLAS_CHUNK_ROWS):
                Xc = self.design.rows(rows)
                Z = np.stack([Xc.dot(V[k]) for k in range(K)], axis=1)  # (m, K, r)
                if self.decoupled:
                    U = np.einsum("mkk->mk", self.W[rows])[:, :, None] * Z
                else:
                    U = np.matmul(self.W[rows], Z)
                for k in range(K):
                    out[k] += Xc.tdot(U[:, k, :])
        if self.null_columns is not None:
            j = self.null_columns
            out[:, j, :] += (self.tau / K) * V[:, j, :].sum(axis=0)[None]
        return out
