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

from .._design import BLAS_CHUNK_ROWS, LEVERAGE_CHUNK_BYTES, row_chunks, rows_per_chunk
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
        """``M_i[k, l] = x̃ᵢᵀ (H⁻¹)_{kl} x̃ᵢ``: diagonal here, ``‖(D L)⁻¹ x̃ᵢ‖²`` per block.

        Rows go ``LEVERAGE_CHUNK_BYTES`` at a time through one reused
        F-ordered buffer holding ``x̃ᵢ`` as columns, which each block's
        triangular inverse multiplies in place (``trmm``, see
        ``CholeskySolver.inverse_norms_inplace``): one copy of each row, no
        other temporary of the chunk's size.
        """
        K = self.block_of_output.size
        M = np.zeros((design.n_samples, K, K))
        diag = np.arange(K)
        chunk = rows_per_chunk(LEVERAGE_CHUNK_BYTES, design.n_columns, design.n_samples)
        rows_T = np.empty((design.n_columns, chunk), order="F")
        work = rows_T if len(self.solvers) == 1 else np.empty_like(rows_T, order="F")
        for rows in row_chunks(design.n_samples, 8 * 2 * design.n_columns, chunk):
            k = rows.stop - rows.start
            design.write_rows_T(rows, rows_T[:, :k])
            for b, solver in enumerate(self.solvers):
                ks = np.flatnonzero(self.block_of_output == b)
                if work is not rows_T:
                    work[:, :k] = rows_T[:, :k]
                q = solver.inverse_norms_inplace(work[:, :k])
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


# --------------------------------------------------------------------------
# Softmax models in the K − 1 parametrisation
# --------------------------------------------------------------------------
#: How :class:`SoftmaxHessian` forms its diagonal-free products: ``"symmetric"``
#: (polarisation: one SYRK per block pair for the Hessian, one Cholesky of a
#: ``p̃ × p̃`` block and one TRMM per pair for the leverages, half the flops of
#: general products) or ``"general"`` (one GEMM per block pair, twice the
#: flops, no polarisation). Read at call time, so a benchmark can switch it.
SOFTMAX_PRODUCTS = "symmetric"


def centred_basis(n_outputs):
    """Orthonormal basis of ``1⊥ ⊂ R^K``: the Helmert contrasts.

    Parameters
    ----------
    n_outputs : int
        ``K ≥ 2``.

    Returns
    -------
    Q : ndarray of shape (K, K − 1)
        ``QᵀQ = I``, ``Qᵀ1 = 0``; column ``a`` is
        ``(1, …, 1, −(a + 1), 0, …, 0) / √((a + 1)(a + 2))``.
    """
    K = n_outputs
    Q = np.zeros((K, K - 1))
    for a in range(K - 1):
        Q[: a + 1, a] = 1.0
        Q[a + 1, a] = -(a + 1.0)
        Q[:, a] /= np.sqrt((a + 1.0) * (a + 2.0))
    return Q


def _pairs(m):
    return [(a, b) for a in range(m) for b in range(a, m)]


def _project_curvature(curvature, Q):
    """``Qᵀ Cᵢ Q`` for every row: (n, K, K) → (n, K − 1, K − 1), two GEMMs."""
    n, K, _ = curvature.shape
    T = (curvature.reshape(n * K, K) @ Q).reshape(n, K, K - 1)
    T = Q.T @ T.transpose(1, 0, 2).reshape(K, n * (K - 1))
    return np.ascontiguousarray(T.reshape(K - 1, n, K - 1).transpose(1, 0, 2))


def _reduced_blocks_general(design, Wv):
    """``Σᵢ (Wv_i)_ab x̃ᵢx̃ᵢᵀ`` for ``a ≤ b`` by GEMMs (upper block triangle filled)."""
    m, d = Wv.shape[1], design.n_columns
    H = np.zeros((m * d, m * d))
    for rows in row_chunks(design.n_samples, 8 * (m + 2) * d, BLAS_CHUNK_ROWS):
        Xc = design.dense_rows(rows)
        W = Wv[rows]
        for a in range(m):
            B = (W[:, a, a:, None] * Xc[:, None, :]).reshape(Xc.shape[0], (m - a) * d)
            H[a * d : (a + 1) * d, a * d :] += Xc.T @ B
    return H


def _reduced_blocks_symmetric(design, Wv):
    """The same blocks by polarisation, one SYRK (``n p̃²`` flops) per pair.

    With ``u = e_a + e_b`` and ``w_i = uᵀ Wv_i u ≥ 0`` (``Wv_i`` is positive
    semi-definite), ``S_ab = X̃ᵀ diag(w) X̃`` is a rank update of
    ``diag(√w) X̃``, and ``H_ab = (S_ab − H_aa − H_bb) / 2``. Every block is
    symmetric (a sum of ``x̃ᵢx̃ᵢᵀ``), so only triangles are formed. Returns
    None if a weight is negative (negative sample weights): the caller
    falls back to GEMMs.
    """
    from scipy.linalg.blas import dsyrk

    m, d = Wv.shape[1], design.n_columns
    pairs = _pairs(m)
    diag = np.einsum("iaa->ia", Wv)
    if np.any(diag < 0):
        return None
    acc = np.zeros((len(pairs), d, d))
    for rows in row_chunks(design.n_samples, 8 * 3 * d, BLAS_CHUNK_ROWS):
        Xc = design.dense_rows(rows)
        Y = np.empty_like(Xc)
        W = Wv[rows]
        for t, (a, b) in enumerate(pairs):
            w = W[:, a, a] if a == b else W[:, a, a] + W[:, b, b] + 2.0 * W[:, a, b]
            np.multiply(Xc, np.sqrt(np.maximum(w, 0.0))[:, None], out=Y)
            # acc[t].T is Fortran-ordered: the rank update is written in place
            dsyrk(1.0, Y.T, beta=1.0, c=acc[t].T, trans=0, lower=0, overwrite_c=1)
    # the upper triangle of acc[t].T is the lower triangle of acc[t]
    lower = np.tril_indices(d, -1)
    for S in acc:
        S[lower[1], lower[0]] = S[lower]
    H = np.empty((m * d, m * d))
    index = {pair: t for t, pair in enumerate(pairs)}
    for t, (a, b) in enumerate(pairs):
        block = acc[t] if a == b else 0.5 * (acc[t] - acc[index[a, a]] - acc[index[b, b]])
        H[a * d : (a + 1) * d, b * d : (b + 1) * d] = block
    return H


class SoftmaxHessian:
    """The Hessian of a softmax (multinomial) model, in the ``K − 1`` parametrisation.

    With per-row curvature ``Cᵢ`` (``Cᵢ 1 = 0``), a penalty ``λ`` shared by
    all outputs and ``Q`` an orthonormal basis of ``1⊥`` (``K × (K − 1)``)::

        H = Σᵢ Cᵢ ⊗ x̃ᵢx̃ᵢᵀ + I_K ⊗ diag(λ)

    is block diagonal with respect to ``V = span(Q) ⊗ R^p̃`` and
    ``V⊥ = 1 ⊗ R^p̃``: on ``V`` it is
    ``H_V = Σᵢ (QᵀCᵢQ) ⊗ x̃ᵢx̃ᵢᵀ + I_{K−1} ⊗ diag(λ)`` (a
    ``(K − 1) p̃`` square matrix), on ``V⊥`` it is ``diag(λ)``. Only
    ``H_V`` is assembled, factorised and inverted: ``(K − 1)K/2`` block
    products instead of ``K(K + 1)/2`` and ``((K − 1)/K)³`` of the
    factorisation's flops. Columns with ``λ_j = 0`` (the intercepts, every
    column when unpenalised) make ``H`` singular on ``V⊥``; as in
    :class:`FullHessian` they get the curvature ``τ`` (the mean diagonal of
    ``H``) there, which changes no solve with a right-hand side in ``V``
    (every per-sample gradient).

    Parameters
    ----------
    reduced : ndarray of shape ((K − 1) p̃, (K − 1) p̃)
        ``H_V`` in the basis ``Q ⊗ I``.
    basis : ndarray of shape (K, K − 1)
    complement : ndarray of shape (p̃,)
        ``λ``: ``H`` on ``V⊥``.
    null_columns : ndarray of bool of shape (p̃,), default=None
    """

    def __init__(self, reduced, basis, complement, null_columns=None):
        self.reduced = reduced
        self.basis = basis
        self.complement = np.asarray(complement, dtype=np.float64)
        self.null_columns = null_columns
        self.n_outputs = basis.shape[0]
        d = self.complement.size
        # τ = mean diagonal of the full H: trace(H) = trace(H_V) + Σ λ_j
        self.tau = (np.trace(reduced) + self.complement.sum()) / (self.n_outputs * d)

    @classmethod
    def assemble(cls, design, curvature, penalty, null_columns=None):
        """``H_V`` from per-row curvature, by BLAS-3.

        ``(K − 1)K/2`` products ``X̃ᵀ diag(wᵢ) X̃`` with
        ``wᵢ = (QᵀCᵢQ)_ab``; ``SOFTMAX_PRODUCTS`` chooses SYRKs
        (``n p̃²`` flops each) or GEMMs (``2 n p̃²``).

        Parameters
        ----------
        design : Design
        curvature : ndarray of shape (n, K, K)
            ``c sᵢ ∂²ℓᵢ/∂z²``, symmetric with ``Cᵢ 1 = 0``.
        penalty : ndarray of shape (p̃,)
        null_columns : ndarray of bool of shape (p̃,), default=None

        Returns
        -------
        hessian : SoftmaxHessian
        """
        K, d = curvature.shape[1], design.n_columns
        Q = centred_basis(K)
        Wv = _project_curvature(curvature, Q)
        H = None
        if SOFTMAX_PRODUCTS == "symmetric":
            H = _reduced_blocks_symmetric(design, Wv)
        if H is None:
            H = _reduced_blocks_general(design, Wv)
        m = K - 1
        for a in range(m):  # lower blocks from the upper ones (each block is symmetric)
            for b in range(a + 1, m):
                H[b * d : (b + 1) * d, a * d : (a + 1) * d] = H[a * d : (a + 1) * d, b * d : (b + 1) * d]
        H[np.diag_indices_from(H)] += np.tile(penalty, m)
        return cls(H, Q, penalty, null_columns)

    def _complement(self, damping):
        comp = self.complement + damping
        if self.null_columns is not None and np.any(self.null_columns):
            comp = comp + self.tau * np.asarray(self.null_columns, dtype=np.float64)
        return comp

    @property
    def matrix(self):
        """The full ``(K p̃, K p̃)`` Hessian (diagnostics and tests; ``(K p̃)²`` memory)."""
        K, m, d, Q = self.n_outputs, self.n_outputs - 1, self.complement.size, self.basis
        Hv = self.reduced.reshape(m, d, m, d)
        T = np.tensordot(Q, Hv, axes=(1, 0))  # (K, d, m, d)
        full = np.tensordot(T, Q, axes=(2, 1)).transpose(0, 1, 3, 2)  # (K, d, K, d)
        full = full + np.full((K, K), 1.0 / K)[:, None, :, None] * np.diag(self.complement)[None, :, None, :]
        return np.ascontiguousarray(full.reshape(K * d, K * d))

    def factorize(self, damping=0.0, solver=CholeskySolver):
        """Factorise ``H_V + damping·I``; ``H⁻¹`` on ``V⊥`` is diagonal.

        Raises ``SingularHessianError`` if ``H`` is singular on ``V⊥`` (a
        column with neither penalty, damping nor known null space).
        """
        comp = self._complement(damping)
        if not np.all(comp > 0):
            from ._cholesky import SingularHessianError

            zero = np.flatnonzero(~(comp > 0))
            raise SingularHessianError(
                f"The Hessian has no curvature along the sum over classes of column(s) "
                f"{zero.tolist()[:10]}, so the influence of a training point is undefined."
            )
        H = self.reduced.copy()
        H[np.diag_indices_from(H)] += damping
        return SoftmaxInverse(solver(H, overwrite=True), self.basis, comp)


class SoftmaxInverse:
    """Applies ``H⁻¹`` of a :class:`SoftmaxHessian`.

    ``H⁻¹ B = (Q ⊗ I) H_V⁻¹ (Qᵀ ⊗ I) B + (11ᵀ/K ⊗ diag(1/λ′)) B`` for
    ``B`` of shape ``(K, p̃, r)``, ``λ′`` the curvature on ``V⊥``.
    """

    coupled = True

    def __init__(self, solver, basis, complement):
        self.solver = solver
        self.basis = basis
        self.complement = complement
        self.n_outputs = basis.shape[0]
        self.name = solver.name

    def solve(self, B):
        """``H⁻¹ B`` for ``B`` of shape (K, p̃, r)."""
        K, d, r = B.shape
        Q = self.basis
        Bv = (Q.T @ B.reshape(K, d * r)).reshape((K - 1) * d, r)
        Yv = self.solver.solve(Bv).reshape(K - 1, d * r)
        out = (Q @ Yv).reshape(K, d, r)
        mean = B.sum(axis=0) / (K * self.complement[:, None])  # the V⊥ part
        out += mean[None]
        return out

    def _inverse_lower(self):
        """``H_V⁻¹`` (lower triangle) by LAPACK ``potri`` on the scaled factor: ``2N³/3`` flops."""
        from scipy.linalg.lapack import dpotri

        factor = self.solver._factor[0]
        inv, info = dpotri(factor, lower=1, overwrite_c=0)
        if info != 0:
            raise np.linalg.LinAlgError(f"potri failed (info={info})")
        scale = self.solver.scale
        inv *= scale[:, None]
        inv *= scale[None, :]
        return inv

    def leverage_blocks(self, design):
        """``Mᵢ[k, l] = x̃ᵢᵀ (H⁻¹)_kl x̃ᵢ`` for every row, by BLAS-3.

        ``Mᵢ = Q Mᵢᵛ Qᵀ + (11ᵀ/K) Σ_j x̃ᵢⱼ²/λ′_j`` with
        ``Mᵢᵛ[a, b] = x̃ᵢᵀ (H_V⁻¹)_ab x̃ᵢ``: ``(K − 1)K/2`` quadratic forms per
        row. With ``SOFTMAX_PRODUCTS="symmetric"`` each is ``‖L_abᵀ x̃ᵢ‖²``
        for the Cholesky factor of ``B_ab = (u ⊗ I)ᵀ H_V⁻¹ (u ⊗ I)``
        (``u = e_a + e_b``; ``B_aa = (H_V⁻¹)_aa``), one TRMM (``n p̃²``
        flops) per pair, and ``Mᵛ_ab = (q_ab − Mᵛ_aa − Mᵛ_bb)/2``; otherwise
        one GEMM (``2 n p̃²``) per pair.
        """
        K, m, d = self.n_outputs, self.n_outputs - 1, design.n_columns
        inv = self._inverse_lower()

        def block(a, b):  # (H_V⁻¹)_ab for a ≥ b, from the lower triangle
            return inv[a * d : (a + 1) * d, b * d : (b + 1) * d]

        Mv = None
        if SOFTMAX_PRODUCTS == "symmetric":
            Mv = _leverage_symmetric(design, block, m, d)
        if Mv is None:
            Mv = _leverage_general(design, block, m, d)
        inv = block = None  # frees (K−1)p̃ × (K−1)p̃ before the n × K × K result
        n = design.n_samples
        Q = self.basis
        T = (Mv.reshape(n * m, m) @ Q.T).reshape(n, m, K)  # Mᵛ Qᵀ
        M = (Q @ T.transpose(1, 0, 2).reshape(m, n * K)).reshape(K, n, K).transpose(1, 0, 2)
        M = np.ascontiguousarray(M)
        perp = np.empty(n)
        for rows in row_chunks(n, 8 * 2 * d, BLAS_CHUNK_ROWS):
            Xr = design.dense_rows(rows)
            perp[rows] = (Xr * Xr) @ (1.0 / self.complement)
        M += (perp / K)[:, None, None]
        return M


def _sym_block(block, a):
    """The diagonal block ``(H_V⁻¹)_aa`` made symmetric from its lower triangle."""
    A = np.tril(block(a, a))
    A += np.tril(A, -1).T
    return A


def _leverage_general(design, block, m, d):
    """``Mᵛ`` by one GEMM per block pair and a row-wise contraction."""
    rows_of = []
    for a in range(m):
        R = np.empty((d, (m - a) * d))
        R[:, :d] = _sym_block(block, a)
        for b in range(a + 1, m):
            R[:, (b - a) * d : (b - a + 1) * d] = block(b, a).T  # (H_V⁻¹)_ab
        rows_of.append(R)
    n = design.n_samples
    Mv = np.empty((n, m, m))
    for rows in row_chunks(n, 8 * (m + 1) * d, BLAS_CHUNK_ROWS):
        Xr = design.dense_rows(rows)
        for a in range(m):
            B = (Xr @ rows_of[a]).reshape(Xr.shape[0], m - a, d)
            Mv[rows, a, a:] = np.einsum("clj,cj->cl", B, Xr)
            Mv[rows, a:, a] = Mv[rows, a, a:]
    return Mv


def _leverage_symmetric(design, block, m, d):
    """``Mᵛ`` by polarisation: one Cholesky of ``p̃ × p̃`` and one TRMM per pair.

    Returns None if a polarised block is not numerically positive definite
    (the caller falls back to GEMMs).
    """
    from scipy.linalg import LinAlgError, cholesky
    from scipy.linalg.blas import dtrmm

    pairs = _pairs(m)
    factors = []
    diag_blocks = [_sym_block(block, a) for a in range(m)]
    try:
        for a, b in pairs:
            if a == b:
                B = diag_blocks[a]
            else:
                Bab = block(b, a)  # (H_V⁻¹)_ba = (H_V⁻¹)_abᵀ
                B = diag_blocks[a] + diag_blocks[b] + Bab + Bab.T
            # Fortran-ordered lower factor L with B = L Lᵀ
            factors.append(np.asfortranarray(cholesky(B, lower=True, check_finite=False)))
    except LinAlgError:
        return None
    del diag_blocks
    n = design.n_samples
    Mv = np.empty((n, m, m))
    q = np.empty((n, len(pairs)))
    for rows in row_chunks(n, 8 * 3 * d, BLAS_CHUNK_ROWS):
        XrT = design.dense_rows(rows).T  # (d, c), Fortran-ordered
        for t, L in enumerate(factors):
            T = dtrmm(1.0, L, XrT, side=0, lower=1, trans_a=1)  # Lᵀ x̃ for every row
            q[rows, t] = np.einsum("ij,ij->j", T, T)
    for t, (a, b) in enumerate(pairs):
        if a == b:
            Mv[:, a, a] = q[:, t]
    for t, (a, b) in enumerate(pairs):
        if a != b:
            Mv[:, a, b] = Mv[:, b, a] = 0.5 * (q[:, t] - Mv[:, a, a] - Mv[:, b, b])
    return Mv
