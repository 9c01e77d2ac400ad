"""Exact inverse-Hessian application through an n × n system (Woodbury), for p ≫ n.

For a decoupled output the Hessian is ``H = Λ + X̃ᵀ W X̃`` with ``Λ`` the
diagonal of L2 penalty plus damping and ``W = diag(wᵢ)`` the per-row
curvature. When ``p̃`` is far larger than ``n`` (text models with 10⁵ terms)
``H`` cannot be formed, but the Woodbury identity trades its ``p̃ × p̃``
factorisation for an ``n × n`` one:

    H⁻¹ = Λ⁻¹ − Λ⁻¹ X̃ᵀ S G⁻¹ S X̃ Λ⁻¹,    G = I + S X̃ Λ⁻¹ X̃ᵀ S,  S = W^½.

``G`` is symmetric positive definite whatever ``W ≥ 0`` (rows with no
curvature, such as squared-hinge rows outside the margin, simply contribute
an identity row), so a Cholesky factorisation applies.

An unpenalised intercept (``Λ_pp = 0``: LogisticRegression, Ridge) makes
``Λ`` singular. It is handled exactly by writing ``Λ = Λ_τ − τ e_p e_pᵀ`` with
``Λ_τ`` the penalty with ``τ`` in the intercept slot: the Woodbury update then
has one more column, of negative sign, and the capacitance matrix becomes the
bordered system ``[[G, c], [cᵀ, 0]]`` with ``cᵢ = Sᵢ / √τ``, solved through
the Cholesky factor of ``G`` and a scalar Schur complement. The result does
not depend on ``τ``.

Cost: ``n² p̃`` (sparse: ``n · nnz``-ish) to form ``X̃ Λ⁻¹ X̃ᵀ``, ``n³/3``
to factorise, ``n²`` memory per distinct output block (20,000 rows: 3.2 GB).
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError, cho_factor, cho_solve, solve_triangular

from .._design import row_chunks
from ._cholesky import SingularHessianError

#: Above this many rows the capacitance is held as lower-triangle tiles.
TILED_ABOVE_SAMPLES = 15_000


class DualBlock:
    """``H⁻¹`` for one output, ``H = diag(lam) + X̃ᵀ diag(w) X̃``, through ``n × n``.

    Parameters
    ----------
    design : DesignMatrix
    w : ndarray of shape (n,)
        Non-negative per-row curvature.
    lam : ndarray of shape (p̃,)
        Penalty plus damping; positive except possibly the intercept's.
    """

    name = "dual"

    def __init__(self, design, w, lam):
        self.design = design
        p = design.X.shape[1]
        if np.any(lam[:p] <= 0):
            raise SingularHessianError(
                "solver='dual' needs an L2 penalty on every coefficient; pass "
                "damping > 0 or use solver='cg'."
            )
        self.bordered = bool(design.fit_intercept and lam[p] <= 0)
        a = np.array(lam, dtype=np.float64)
        if self.bordered:
            self.tau = float(np.median(a[:p]))
            a[p] = self.tau
        self.a_inv = 1.0 / a
        self.s = np.sqrt(np.maximum(w, 0.0))
        self._factorize_capacitance()
        if self.bordered:
            self.c = self.s / np.sqrt(self.tau)
            self.Gc = self._cho_solve(self.c[:, None])[:, 0]
            self.cGc = float(self.c @ self.Gc)
            if not self.cGc > 0:
                raise SingularHessianError(
                    "The intercept is undetermined (no row has curvature); pass damping > 0."
                )

    def _factorize_capacitance(self):
        """``G = I + S X̃ Λ_τ⁻¹ X̃ᵀ S = L Lᵀ``, built and factorised in one n × n array.

        The scaling is in place, and G is symmetric, so its transpose (a
        Fortran-ordered view) goes to LAPACK without a copy.
        """
        G = self._gram()
        G *= self.s[:, None]
        G *= self.s[None, :]
        G[np.diag_indices_from(G)] += 1.0
        try:
            self._factor = cho_factor(G.T, lower=True, overwrite_a=True, check_finite=False)
        except LinAlgError:  # pragma: no cover - G = I + PSD cannot fail but by rounding
            raise SingularHessianError("The dual system I + S X̃ Λ⁻¹ X̃ᵀ S is singular.") from None

    def _cho_solve(self, R):
        """``G⁻¹ R``."""
        return cho_solve(self._factor, R, check_finite=False)

    def _whiten(self, R):
        """``L⁻¹ R``, so that ``‖L⁻¹ r‖² = rᵀ G⁻¹ r``."""
        return solve_triangular(self._factor[0], R, lower=True, check_finite=False)

    def _gram(self):
        """``X̃ Λ_τ⁻¹ X̃ᵀ`` as one dense ``n × n`` array, filled by blocks of rows.

        Blocks keep the sparse product's temporaries (whose fill can approach
        ``n²``) within ``working_memory`` beside the result.
        """
        X, p = self.design.X, self.design.X.shape[1]
        n = X.shape[0]
        gram = np.empty((n, n))
        if sp.issparse(X):
            Xa = X.multiply(self.a_inv[:p]).tocsr()
            XT = X.T.tocsr()  # converted once, not by every block's product
            for rows in row_chunks(n, 3 * 8 * n):
                gram[rows] = (Xa[rows] @ XT).toarray()
        else:
            Xa = X * self.a_inv[:p]
            for rows in row_chunks(n, 8 * n, 4096):
                gram[rows] = Xa[rows] @ X.T
        if self.design.fit_intercept:
            gram += self.a_inv[p]
        return gram

    def _capacitance_solve(self, R, q):
        """Solve ``[[G, c], [cᵀ, 0]] [x; y] = [R; q]`` (or ``G x = R`` when not bordered)."""
        GR = self._cho_solve(R)
        if not self.bordered:
            return GR, None
        y = (self.c @ GR - q) / self.cGc
        return GR - np.outer(self.Gc, y), y

    def solve(self, B):
        """``H⁻¹ B`` for ``B`` of shape (p̃, r)."""
        AB = self.a_inv[:, None] * B
        R = self.s[:, None] * self.design.dot(AB)  # S X̃ Λ⁻¹ B, (n, r)
        q = AB[-1] * np.sqrt(self.tau) if self.bordered else None
        x, y = self._capacitance_solve(R, q)
        correction = self.design.tdot(self.s[:, None] * x)
        if self.bordered:
            correction[-1] += np.sqrt(self.tau) * y
        return AB - self.a_inv[:, None] * correction

    def quadratic_diagonal(self, Xr):
        """``x̃ᵢᵀ H⁻¹ x̃ᵢ`` for the dense rows ``Xr`` (m, p̃), without forming ``H⁻¹``.

        ``x̃ᵀΛ⁻¹x̃ − uᵀ Cap⁻¹ u`` with ``u = [S X̃ Λ⁻¹ x̃; x̃_p/√τ]``; for the
        bordered capacitance ``uᵀCap⁻¹u = rᵀG⁻¹r − (cᵀG⁻¹r − q)²/(cᵀG⁻¹c)``.
        """
        T = (Xr * self.a_inv).T  # Λ⁻¹ x̃, (p̃, m)
        base = np.einsum("jm,mj->m", T, Xr)
        R = self.s[:, None] * self.design.dot(T)  # (n, m)
        Lr = self._whiten(R)
        quad = np.einsum("nm,nm->m", Lr, Lr)
        if self.bordered:
            q = Xr[:, -1] * self.a_inv[-1] * np.sqrt(self.tau)
            quad -= (self.Gc @ R - q) ** 2 / self.cGc
        return base - quad


class DualInverse:
    """``blockdiag(H_k)⁻¹`` by :class:`DualBlock`, one per distinct output block.

    Parameters
    ----------
    design : DesignMatrix
    W : ndarray of shape (n, K, K)
        Diagonal per-row curvature (decoupled outputs only).
    penalty : ndarray of shape (K, p̃)
    damping : float
    tile : int or None, default=None
        Hold each ``n × n`` capacitance as lower-triangle tiles of at most this
        many rows (:class:`~skinfluence._solvers._tiled.TiledDualBlock`:
        half the memory, and the training leverages from ``diag(G⁻¹)``
        instead of one triangular solve per row). ``None``: tiles when
        ``n > 15,000`` (the full matrix would exceed 1.8 GB), one dense array
        otherwise.
    backend : {"numpy", "dask"}, default="numpy"
        ``"dask"`` (tiled only) runs the tiled factorisation as ``dask.array``
        tasks on the active dask scheduler.
    """

    coupled = False
    name = "dual"

    def __init__(self, design, W, penalty, damping, tile=None, backend="numpy"):
        from ._tiled import TiledDualBlock

        tiled = tile is not None or backend == "dask" or design.n_samples > TILED_ABOVE_SAMPLES
        K = W.shape[1]
        w = np.einsum("nkk->nk", W)
        lam = penalty + damping
        self.blocks, self.block_of_output = [], np.empty(K, dtype=int)
        keys = []
        for k in range(K):
            for b, (wk, lk) in enumerate(keys):
                if np.array_equal(wk, w[:, k]) and np.array_equal(lk, lam[k]):
                    self.block_of_output[k] = b
                    break
            else:
                keys.append((w[:, k], lam[k]))
                if tiled:
                    block = TiledDualBlock(design, w[:, k], lam[k], tile=tile, backend=backend)
                else:
                    block = DualBlock(design, w[:, k], lam[k])
                self.blocks.append(block)
                self.block_of_output[k] = len(self.blocks) - 1

    def solve(self, B):
        out = np.empty_like(B, dtype=np.float64)
        for k in range(B.shape[0]):
            out[k] = self.blocks[self.block_of_output[k]].solve(B[k])
        return out

    def leverage_blocks(self, design):
        """Diagonal ``M_i[k, k] = x̃ᵢᵀ H_k⁻¹ x̃ᵢ``, in chunks of rows (``n`` per row of memory)."""
        K = self.block_of_output.size
        M = np.zeros((design.n_samples, K, K))
        n_train = self.blocks[0].design.n_samples
        if design is self.blocks[0].design and hasattr(self.blocks[0], "training_quadratic_diagonal"):
            # the training rows of tiled blocks: all at once from diag(G⁻¹)
            for b, block in enumerate(self.blocks):
                q = block.training_quadratic_diagonal()
                for k in np.flatnonzero(self.block_of_output == b):
                    M[:, k, k] = q
            return M
        for rows in row_chunks(design.n_samples, 8 * (3 * n_train + 2 * design.n_columns)):
            Xr = design.dense_rows(rows)
            for b, block in enumerate(self.blocks):
                q = block.quadratic_diagonal(Xr)
                for k in np.flatnonzero(self.block_of_output == b):
                    M[rows, k, k] = q
        return M
