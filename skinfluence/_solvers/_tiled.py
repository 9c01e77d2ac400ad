"""The dual (Woodbury) solver for large ``n``: the ``n × n`` capacitance in lower-triangle tiles.

:class:`~skinfluence._solvers._dual.DualBlock` factorises the capacitance
``G = I + S X̃ Λ⁻¹ X̃ᵀ S`` as one dense ``n × n`` array: 20 GB at
``n = 50,000``. Only its lower triangle is needed, so :class:`TiledLower` keeps
it as square Fortran-ordered tiles ``A_IJ`` (``I ≥ J``, ``b × b`` with
``b ≈ 5,000``): ``n²/2 + n b/2`` doubles (10.6 GB at ``n = 50,000``), and

- factorises ``G = L Lᵀ`` in place, right-looking by tiles: LAPACK ``potrf``
  on the diagonal tile, BLAS ``trsm`` for the panel below it, ``syrk``/``gemm``
  for the trailing update (``n³/3`` flops);
- inverts ``L`` in place on demand (``M = L⁻¹``, tiled ``trmm``/``gemm``/
  ``trsm`` and ``trtri``, ``n³/3`` flops), which gives

      [G⁻¹]ᵢᵢ = ‖M eᵢ‖² = Σ_{k ≥ i} M_kᵢ²

  (column sums of squares) for every row at once;
- applies ``L⁻¹``/``L⁻ᵀ`` to right-hand sides by tiles (triangular solves
  with ``L``, or products with ``M`` once inverted).

The leverages then follow without one solve per row (:meth:`TiledDualBlock.training_quadratic_diagonal`).
With ``V = [X̃ᵀS, √τ e_p]`` and ``D = diag(1, …, 1, −1)`` the Woodbury
identity gives ``Vᵀ H⁻¹ V = D − D Cap⁻¹ D`` with the capacitance
``Cap = [[G, c], [cᵀ, 0]]``, ``c = S 1/√τ`` (only ``G`` without an
unpenalised intercept), so the leverage of training row ``i`` is

    hᵢ = wᵢ x̃ᵢᵀ H⁻¹ x̃ᵢ = 1 − [G⁻¹]ᵢᵢ + (G⁻¹c)ᵢ² / (cᵀG⁻¹c)

(the last term only with the bordered intercept), and ``qᵢ = x̃ᵢᵀH⁻¹x̃ᵢ =
hᵢ / wᵢ``. Rows with ``wᵢ = 0`` or a leverage so small that ``1 − [G⁻¹]ᵢᵢ``
would cancel (``hᵢ < 10⁻³``) get ``qᵢ`` from the direct formula
(:meth:`DualBlock.quadratic_diagonal`, one tiled product per row).

``backend="dask"`` runs the factorisation and the inversion as
``dask.array`` tasks (``da.linalg.cholesky``, ``da.linalg.solve_triangular``)
on the active dask scheduler, e.g. a ``distributed.Client`` on a
``LocalCluster`` or a bigger cluster; the tiles of ``M`` are then gathered
into the same :class:`TiledLower` and everything downstream is shared.
"""

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack, solve_triangular

from .._blas import dgemm_nogil, dsyrk_lower_nogil, dtrmm_lower_nogil, dtrsm_lower_nogil
from .._design import row_chunks
from ._cholesky import SingularHessianError
from ._dual import DualBlock

#: Default tile: at most this many rows (GEMM-efficient, 200 MB per tile).
DEFAULT_TILE = 5000
#: Below this leverage ``1 − [G⁻¹]ᵢᵢ`` loses too many digits; such rows are
#: computed by the direct formula.
DIRECT_LEVERAGE_BELOW = 1e-3
#: Sparse X: columns present in more than this share of the rows are
#: multiplied as a dense block (GEMM); the rest as sparse products.
DENSE_COLUMN_SHARE = 1.0 / 32
DENSE_COLUMN_MAX = 2048


def tile_bounds(n, tile):
    """Start offsets of ``ceil(n / tile)`` near-equal tiles, and ``n`` last."""
    n_tiles = max(1, -(-n // tile))
    size = -(-n // n_tiles)
    return list(range(0, n, size)) + [n]


class TiledLower:
    """The lower triangle of a symmetric ``n × n`` matrix as square tiles.

    Holds ``G`` (state ``"matrix"``), then its Cholesky factor ``L``
    (``"factor"``), then ``M = L⁻¹`` (``"inverse"``), each in place. Once
    factorised, the diagonal tiles hold exact zeros above their diagonal
    (``potrf`` with ``clean``; ``trtri`` leaves them), so they multiply as
    plain arrays.

    Parameters
    ----------
    n : int
        Order of the matrix.
    tile : int
        Largest tile side; tiles are near-equal (the last may be smaller).
    """

    def __init__(self, n, tile):
        self.n = int(n)
        self.bounds = tile_bounds(self.n, int(tile))
        self.n_tiles = len(self.bounds) - 1
        self.tiles = {}
        self.state = "matrix"

    def span(self, i):
        return slice(self.bounds[i], self.bounds[i + 1])

    @property
    def nbytes(self):
        return sum(t.nbytes for t in self.tiles.values())

    def cholesky(self):
        """``G = L Lᵀ`` in place, right-looking by tiles (``n³/3`` flops).

        Step ``k``: ``potrf`` on ``A_kk``; ``A_ik ← A_ik L_kk⁻ᵀ`` (``trsm``)
        for the tiles below it; ``A_ij −= A_ik A_jkᵀ`` (``syrk`` on the
        diagonal, ``gemm`` below) for the trailing tiles. The tiles of one
        stage are independent and run on :func:`_blas_workers`.
        """
        A, T = self.tiles, self.n_tiles

        def panel(k, i):
            dtrsm_lower_nogil(1.0, A[k, k], A[i, k], right=True, trans=True)

        def update(k, i, j):
            if i == j:
                dsyrk_lower_nogil(-1.0, A[j, k], 1.0, A[j, j])
            else:
                dgemm_nogil(-1.0, A[i, k], A[j, k], 1.0, A[i, j], trans_b=True)

        with _blas_workers() as run:
            for k in range(T):
                L, info = lapack.dpotrf(A[k, k], lower=1, clean=1, overwrite_a=1)
                if info != 0:
                    raise SingularHessianError(
                        "The dual system I + S X̃ Λ⁻¹ X̃ᵀ S is not positive definite "
                        f"(Cholesky failed at row {self.bounds[k] + info - 1})."
                    )
                _into(A[k, k], L)
                run([functools.partial(panel, k, i) for i in range(k + 1, T)])
                run([functools.partial(update, k, i, j)
                     for j in range(k + 1, T) for i in range(j, T)])
        self.state = "factor"

    def invert(self):
        """``M = L⁻¹`` in place (``n³/3`` flops).

        With ``L = [[L₁₁, 0], [L₂₁, L₂₂]]``, ``M₂₁ = −M₂₂ L₂₁ L₁₁⁻¹``: block
        columns from the last; the product with the already inverted trailing
        part bottom-up, so that every tile it reads is still ``L``'s (split by
        columns between the workers: columns do not mix in ``M₂₂ P``), then
        ``·L₁₁⁻¹`` (``trsm``, split by tiles: rows do not mix), then
        ``trtri`` on the diagonal tile.
        """
        if self.state == "inverse":
            return
        if self.state != "factor":
            self.cholesky()
        A, T = self.tiles, self.n_tiles

        def product(j, cols):
            for i in range(T - 1, j, -1):
                P = A[i, j][:, cols]
                dtrmm_lower_nogil(1.0, A[i, i], P)
                for k in range(j + 1, i):
                    dgemm_nogil(1.0, A[i, k], A[k, j][:, cols], 1.0, P)

        def right_solve(j, i):
            dtrsm_lower_nogil(-1.0, A[j, j], A[i, j], right=True)

        with _blas_workers() as run:
            for j in range(T - 1, -1, -1):
                if j < T - 1:
                    width = A[j, j].shape[1]
                    parts = np.array_split(np.arange(width), run.n_workers)
                    run([functools.partial(product, j, slice(c[0], c[-1] + 1))
                         for c in parts if c.size])
                    run([functools.partial(right_solve, j, i) for i in range(j + 1, T)])
                Minv, info = lapack.dtrtri(A[j, j], lower=1, overwrite_c=1)
                if info != 0:  # pragma: no cover - a Cholesky factor has a positive diagonal
                    raise SingularHessianError("The Cholesky factor of the dual system is singular.")
                _into(A[j, j], Minv)
        self.state = "inverse"

    def inverse_diagonal(self):
        """``diag(G⁻¹)``: column sums of squares of ``M = L⁻¹`` (inverts first if needed)."""
        self.invert()
        A, T = self.tiles, self.n_tiles
        out = np.zeros(self.n)
        for j in range(T):
            cols = self.span(j)
            out[cols] += np.einsum("ij,ij->j", A[j, j], A[j, j])
            for i in range(j + 1, T):
                out[cols] += np.einsum("ij,ij->j", A[i, j], A[i, j])
        return out

    def solve_lower(self, R):
        """``L⁻¹ R`` for ``R`` of shape (n, r); a new array."""
        A, T = self.tiles, self.n_tiles
        R = np.asarray(R, dtype=np.float64)
        out = np.empty_like(R)
        for i in range(T):
            rows = self.span(i)
            if self.state == "inverse":
                acc = A[i, i] @ R[rows]
                for k in range(i):
                    acc += A[i, k] @ R[self.span(k)]
                out[rows] = acc
            else:
                acc = R[rows].copy()
                for k in range(i):
                    acc -= A[i, k] @ out[self.span(k)]
                out[rows] = solve_triangular(A[i, i], acc, lower=True, check_finite=False)
        return out

    def solve_upper(self, R):
        """``L⁻ᵀ R`` for ``R`` of shape (n, r); a new array."""
        A, T = self.tiles, self.n_tiles
        R = np.asarray(R, dtype=np.float64)
        out = np.empty_like(R)
        for i in range(T - 1, -1, -1):
            rows = self.span(i)
            if self.state == "inverse":
                acc = A[i, i].T @ R[rows]
                for k in range(i + 1, T):
                    acc += A[k, i].T @ R[self.span(k)]
                out[rows] = acc
            else:
                acc = R[rows].copy()
                for k in range(i + 1, T):
                    acc -= A[k, i].T @ out[self.span(k)]
                out[rows] = solve_triangular(
                    A[i, i], acc, lower=True, trans="T", check_finite=False
                )
        return out


def _into(dst, result):
    """Make sure an in-place BLAS/LAPACK result landed in ``dst`` (f2py copies non-Fortran input)."""
    if result is not dst and not np.shares_memory(result, dst):
        dst[...] = result


class _blas_workers:
    """Run independent tile operations on threads, each with single-threaded BLAS.

    As many workers as BLAS had threads (2 on the project machine). The
    tile operations go through :mod:`skinfluence._blas`'s ``*_nogil``
    routines, which release the GIL (SciPy's ``scipy.linalg.blas`` wrappers
    hold it: with them the workers took turns, measured 42 GFLOP/s for
    the tiled Cholesky of an 8,000-row matrix on two cores), so two
    single-threaded tile products run on two cores; unlike OpenBLAS's own
    threads, idle workers block instead of spinning, which keeps the speed
    on a shared, loaded machine (measured on a 3,000-row matrix under load:
    3.2 GFLOP/s with OpenBLAS's two threads, 14 with one).
    """

    def __enter__(self):
        from threadpoolctl import threadpool_info, threadpool_limits

        threads = [m["num_threads"] for m in threadpool_info() if m["user_api"] == "blas"]
        self.n_workers = max(1, min(max(threads, default=1), os.cpu_count() or 1))
        self._limits = threadpool_limits(limits=1, user_api="blas")
        self._pool = ThreadPoolExecutor(self.n_workers) if self.n_workers > 1 else None
        return self

    def __call__(self, tasks):
        if self._pool is None or len(tasks) < 2:
            for task in tasks:
                task()
            return
        for future in [self._pool.submit(task) for task in tasks]:
            future.result()

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown()
        self._limits.restore_original_limits()


def _dense_columns(X):
    """Columns of a CSR ``X`` frequent enough to multiply densely (GEMM)."""
    df = np.bincount(X.indices, minlength=X.shape[1])
    order = np.argsort(-df, kind="stable")
    k = int(np.sum(df > DENSE_COLUMN_SHARE * X.shape[0]))
    return np.sort(order[: min(k, DENSE_COLUMN_MAX)])


def _kernel_factors(design, a_inv):
    """What every tile of ``X̃ Λ⁻¹ X̃ᵀ`` is made from: dense and sparse parts of X."""
    X, p = design.X, design.X.shape[1]
    if not sp.issparse(X):
        X = np.asarray(X, dtype=np.float64)
        return {"dense": X, "scale": a_inv[:p], "sparse": None, "sparse_t": None}
    X = X.tocsr()
    head = _dense_columns(X)
    mask = np.ones(p, dtype=bool)
    mask[head] = False
    tail = np.flatnonzero(mask)
    Xh = X[:, head].toarray() if head.size else None
    Xt = X[:, tail].tocsr()
    return {
        "dense": Xh,
        "scale": a_inv[head],
        "sparse": Xt.multiply(a_inv[tail]).tocsr(),
        "sparse_t": Xt,
    }


def gram_tile(factors, rows_i, rows_j, s, const, diagonal):
    """Tile ``(I, J)`` of ``G = I + S (X̃ Λ⁻¹ X̃ᵀ) S``, Fortran-ordered.

    ``const`` is the intercept's ``1/τ`` (or 0); ``diagonal`` adds the identity.
    """
    m, k = rows_i.stop - rows_i.start, rows_j.stop - rows_j.start
    if factors["dense"] is not None:
        D = factors["dense"]
        # tile = (D_I·scale) D_Jᵀ; the C-ordered row blocks are F-ordered transposed
        tile = np.empty((m, k), order="F")
        left = np.ascontiguousarray(D[rows_i] * factors["scale"])
        dgemm_nogil(1.0, left.T, np.ascontiguousarray(D[rows_j]).T, 0.0, tile, trans_a=True)
    else:
        tile = np.zeros((m, k), order="F")
    if factors["sparse"] is not None:
        prod = factors["sparse"][rows_i] @ factors["sparse_t"][rows_j].T
        tile += prod.toarray()
        del prod
    if const:
        tile += const
    tile *= s[rows_i, None]
    tile *= s[None, rows_j]
    if diagonal:
        tile[np.diag_indices(m)] += 1.0
    return tile


def build_capacitance(G, factors, s, const):
    """Fill the lower tiles of ``G`` (:func:`gram_tile`), two tiles at a time (:class:`_blas_workers`)."""

    def fill(i, j):
        G.tiles[i, j] = gram_tile(factors, G.span(i), G.span(j), s, const, i == j)

    with _blas_workers() as run:
        run([functools.partial(fill, i, j) for j in range(G.n_tiles) for i in range(j, G.n_tiles)])


class TiledDualBlock(DualBlock):
    """:class:`DualBlock` whose capacitance ``G`` is held as lower tiles (:class:`TiledLower`).

    Same numbers as :class:`DualBlock`; memory ``n²/2 + n b/2`` doubles
    instead of ``n²``. ``G = L Lᵀ`` is factorised at construction
    (``n³/3`` flops); ``L`` is inverted in place the first time the training
    leverages are asked for (another ``n³/3``); solves before that are
    tiled triangular solves, after it tiled products with ``L⁻¹``.

    Parameters
    ----------
    design : DesignMatrix
    w : ndarray of shape (n,)
        Non-negative per-row curvature.
    lam : ndarray of shape (p̃,)
        Penalty plus damping; positive except possibly the intercept's.
    tile : int or None
        Largest tile side (default 5,000).
    backend : {"numpy", "dask"}
        Where the factorisation and inversion run.
    """

    name = "dual"

    def __init__(self, design, w, lam, tile=None, backend="numpy"):
        self.tile = DEFAULT_TILE if tile is None else int(tile)
        self.backend = backend
        super().__init__(design, w, lam)

    # DualBlock.__init__ calls _factorize_capacitance (the dense version there)
    def _factorize_capacitance(self):
        n = self.design.n_samples
        p = self.design.X.shape[1]
        self.G = TiledLower(n, self.tile)
        factors = _kernel_factors(self.design, self.a_inv)
        const = self.a_inv[p] if self.design.fit_intercept else 0.0
        if self.backend == "dask":
            _dask_factor_and_invert(self.G, factors, self.s, const)
            return
        build_capacitance(self.G, factors, self.s, const)
        del factors
        self.G.cholesky()

    def _cho_solve(self, R):
        return self.G.solve_upper(self.G.solve_lower(R))

    def _whiten(self, R):
        return self.G.solve_lower(R)

    def training_quadratic_diagonal(self):
        """``qᵢ = x̃ᵢᵀ H⁻¹ x̃ᵢ`` for every training row, from ``diag(G⁻¹)``.

        ``hᵢ = 1 − [G⁻¹]ᵢᵢ + (G⁻¹c)ᵢ²/(cᵀG⁻¹c)`` and ``qᵢ = hᵢ / wᵢ``; rows with
        ``wᵢ = 0`` or ``hᵢ < 10⁻³`` by the direct formula instead.
        """
        diag = self.G.inverse_diagonal()
        h = 1.0 - diag
        if self.bordered:
            h += self.Gc**2 / self.cGc
        w = self.s**2
        q = np.zeros_like(h)
        ok = (w > 0) & (h >= DIRECT_LEVERAGE_BELOW)
        q[ok] = h[ok] / w[ok]
        direct = np.flatnonzero(~ok)
        n = self.design.n_samples
        for chunk in row_chunks(direct.size, 8 * (3 * n + 2 * self.design.n_columns)):
            rows = direct[chunk]
            q[rows] = self.quadratic_diagonal(self.design.dense_rows(rows))
        self.n_direct_rows_ = int(direct.size)
        return q


def _padded_gram_tile(factors, bounds, s, const, size, i, j):
    """Tile ``(i, j)`` of ``G`` padded to ``size × size`` by ``[[G, 0], [0, I]]``."""
    rows_i, rows_j = slice(bounds[i], bounds[i + 1]), slice(bounds[j], bounds[j + 1])
    tile = gram_tile(factors, rows_i, rows_j, s, const, i == j)
    if tile.shape == (size, size):
        return tile
    out = np.zeros((size, size), order="F")
    out[: tile.shape[0], : tile.shape[1]] = tile
    if i == j:
        pad = np.arange(tile.shape[0], size)
        out[pad, pad] = 1.0
    return out


def _dask_factor_and_invert(G, factors, s, const):
    """``G``'s tiles, ``L = chol(G)`` and ``M = L⁻¹`` as dask tasks; ``M``'s lower tiles gathered into ``G``.

    ``da.linalg.cholesky`` needs equal square chunks: when the tile does not
    divide ``n``, ``G`` is padded to ``[[G, 0], [0, I]]``, whose factor and
    inverse are ``L`` and ``L⁻¹`` beside an identity (the padding is dropped).
    """
    import dask
    import dask.array as da
    from scipy.linalg import LinAlgError

    T = G.n_tiles
    size = G.bounds[1] - G.bounds[0]
    # X (and s) enter the graph once, not with every task
    inputs = dask.delayed(factors, pure=True), dask.delayed(s, pure=True)
    tile = dask.delayed(_padded_gram_tile, pure=True)
    blocks = [[None] * T for _ in range(T)]
    for i in range(T):
        for j in range(i + 1):
            blocks[i][j] = da.from_delayed(
                tile(inputs[0], G.bounds, inputs[1], const, size, i, j),
                shape=(size, size), dtype=np.float64,
            )
    for i in range(T):
        for j in range(i + 1, T):
            blocks[i][j] = blocks[j][i].T
    A = da.block(blocks)
    L = da.linalg.cholesky(A, lower=True)
    eye = da.eye(T * size, chunks=size)
    M = da.linalg.solve_triangular(L, eye, lower=True)
    keys = [(i, j) for i in range(T) for j in range(i + 1)]
    try:
        tiles = dask.compute(*[M.blocks[i, j] for i, j in keys])
    except LinAlgError:
        raise SingularHessianError(
            "The dual system I + S X̃ Λ⁻¹ X̃ᵀ S is not positive definite (Cholesky failed)."
        ) from None
    for (i, j), block in zip(keys, tiles, strict=True):
        block = block[: G.bounds[i + 1] - G.bounds[i], : G.bounds[j + 1] - G.bounds[j]]
        G.tiles[i, j] = np.asfortranarray(np.tril(block) if i == j else block)
    G.state = "inverse"
