"""The augmented design matrix ``X̃ = [X, 1]`` without copying ``X``.

Every linear model in skinfluence predicts ``Z = X̃ Θ̃ᵀ`` where ``Θ̃`` has one
row per output and the intercept in its last column. Appending a column of ones
to ``X`` would copy the whole training set, so this class applies ``X̃`` and
``X̃ᵀ`` by treating the intercept column separately. Dense and scipy.sparse
inputs go through the same code (``safe_sparse_dot``); sparse inputs are never
densified, only the ``p̃ × p̃`` Gram matrix is.
"""

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils.extmath import safe_sparse_dot

from ._blas import gemm, gemv, symmetrize_lower, syrk_add

#: Chunks of rows for BLAS-3 work: large enough for GEMM efficiency, small
#: enough that temporaries are reused instead of freshly allocated (measured:
#: whole-matrix temporaries spent as long in page faults as in the GEMMs).
BLAS_CHUNK_ROWS = 2048
#: Bytes per chunk of rows for the Gram matrix's SYRK and for the leverages'
#: triangular products: the scaled (or transposed) copy of the chunk stays
#: in cache for the BLAS call that reads it, and narrow designs still get
#: chunks long enough for BLAS to split between threads. Measured, n = 50,000:
#: p = 200, one thread, SYRK 1,024 rows 70 ms vs 2,048 rows 78 ms, ``trsm``
#: 512 rows 78 ms vs 2,048 rows 85 ms; p = 50, two threads, n = 20,000: SYRK
#: 1,024 rows 8.2 ms vs 5,140 rows 3.7 ms, leverages 512 rows 13 ms vs 4,096
#: rows 8.6 ms (n = 50,000).
GRAM_CHUNK_BYTES = 2**21
LEVERAGE_CHUNK_BYTES = 2**20


def rows_per_chunk(budget, n_columns, n_rows):
    """Rows of ``n_columns`` float64 values in ``budget`` bytes (at least 1, at most ``n_rows``)."""
    return max(1, min(budget // (8 * max(n_columns, 1)), n_rows))


def row_chunks(n_rows, bytes_per_row, max_rows=None):
    """Yield slices of ``range(n_rows)`` whose temporaries fit ``working_memory``.

    Follows ``sklearn.metrics.pairwise_distances_chunked``: the budget is
    ``sklearn.get_config()["working_memory"]`` MiB, and at least one row is
    processed per chunk whatever the budget. ``max_rows`` caps the chunk.
    """
    budget = get_config()["working_memory"] * 2**20
    size = max(1, int(budget // max(bytes_per_row, 1)))
    if max_rows is not None:
        size = min(size, max_rows)
    for start in range(0, n_rows, size):
        yield slice(start, min(start + size, n_rows))


def _product(A, B):
    """``A @ B`` as a dense array: SciPy's BLAS for dense float64 (see ``_blas``)."""
    if (
        isinstance(A, np.ndarray) and isinstance(B, np.ndarray)
        and A.dtype == np.float64 and B.dtype == np.float64 and A.ndim == 2
    ):
        if B.ndim == 1:
            return gemv(A, B)
        if B.ndim == 2 and B.shape[1] == 1:  # GEMM with one column is slower than GEMV
            return gemv(A, B[:, 0])[:, None]
        if B.ndim == 2:
            return gemm(A, B)
    return np.asarray(safe_sparse_dot(A, B, dense_output=True))


class DesignMatrix:
    """``X̃ = [X, 1]`` (or ``X`` itself when there is no intercept).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    fit_intercept : bool
        Whether ``X̃`` carries the trailing column of ones.
    """

    def __init__(self, X, fit_intercept):
        self.X = X.tocsr() if sp.issparse(X) else X
        self.fit_intercept = bool(fit_intercept)

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_columns(self):
        """``p̃``: the number of features plus one when there is an intercept."""
        return self.X.shape[1] + self.fit_intercept

    def rows(self, index):
        """The design matrix restricted to the rows ``index``."""
        return DesignMatrix(self.X[index], self.fit_intercept)

    def dot(self, V):
        """``X̃ @ V`` for ``V`` of shape (p̃,) or (p̃, m); returns a dense array."""
        V = np.asarray(V)
        p = self.X.shape[1]
        out = _product(self.X, V[:p])
        if self.fit_intercept:
            out += V[p]
        return out

    def rdot(self, B):
        """``B @ X̃ᵀ`` for ``B`` of shape (m, p̃); returns a dense (m, n) array.

        Computed as one GEMM with ``X`` transposed in place (no copy of ``X``).
        """
        B = np.asarray(B)
        p = self.X.shape[1]
        out = _product(B[:, :p], self.X.T)
        if self.fit_intercept:
            np.add(out, B[:, p, None], out=out)
        return out

    def tdot(self, A):
        """``X̃ᵀ @ A`` for ``A`` of shape (n,) or (n, m); returns a dense array."""
        A = np.asarray(A)
        out = _product(self.X.T, A)
        if self.fit_intercept:
            out = np.concatenate([out, A.sum(axis=0, keepdims=True)], axis=0)
        return out

    def gram(self, d):
        """``X̃ᵀ diag(d) X̃``, dense (p̃, p̃), assembled in row chunks by BLAS-3."""
        X, p = self.X, self.X.shape[1]
        if sp.issparse(X):
            G = np.zeros((self.n_columns, self.n_columns))
            XtDX = X.T @ X.multiply(d[:, None]).tocsr()
            G[:p, :p] = XtDX.toarray()
        elif np.all(d >= 0):
            # ``X̃_cᵀ X̃_c`` with ``X̃_c = [√d ⊙ X, √d]`` per chunk of rows, in one
            # reused buffer, by SYRK (half the flops of ``Xᵀ (d ⊙ X)``'s GEMM;
            # measured 1.5× faster on one OpenBLAS thread, n = 20,000,
            # p = 200) accumulated in place in the lower triangle; the
            # intercept's row ``Xᵀ d`` and corner ``Σ d`` come with it.
            d_cols = self.n_columns
            if d.size and np.all(d == d[0]):  # least squares: no scaling pass at all
                return self._constant_gram(float(d[0]))
            G = np.zeros((d_cols, d_cols), order="F")
            root = np.sqrt(d)
            chunk = rows_per_chunk(GRAM_CHUNK_BYTES, d_cols, X.shape[0])
            buffer = np.empty((chunk, d_cols))
            for rows in row_chunks(X.shape[0], 8 * d_cols, chunk):
                Xc = buffer[: rows.stop - rows.start]
                np.multiply(X[rows], root[rows, None], out=Xc[:, :p])
                if self.fit_intercept:
                    Xc[:, p] = root[rows]
                syrk_add(Xc, G)
            G = np.ascontiguousarray(symmetrize_lower(G))
            return G
        else:
            G = np.zeros((self.n_columns, self.n_columns))
            for rows in row_chunks(X.shape[0], 8 * p, BLAS_CHUNK_ROWS):
                Xc = X[rows]
                G[:p, :p] += gemm(Xc.T, Xc * d[rows, None])
        if self.fit_intercept:
            col = self.tdot(d)[:p].ravel()
            G[:p, p] = col
            G[p, :p] = col
            G[p, p] = d.sum()
        return G

    def _constant_gram(self, c):
        """``c · X̃ᵀ X̃`` (dense ``X``): SYRK on ``X``'s own rows, column sums beside it."""
        X, p = self.X, self.X.shape[1]
        XtX = np.zeros((p, p), order="F")
        col = np.zeros(p)
        for rows in row_chunks(X.shape[0], 8 * p, rows_per_chunk(GRAM_CHUNK_BYTES, p, X.shape[0])):
            Xc = X[rows]
            syrk_add(Xc, XtX)
            if self.fit_intercept:
                col += Xc.sum(axis=0)
        G = np.empty((self.n_columns, self.n_columns))
        G[:p, :p] = symmetrize_lower(XtX)
        if self.fit_intercept:
            G[:p, p] = col
            G[p, :p] = col
            G[p, p] = X.shape[0]
        G *= c
        return G

    def weighted(self, w):
        """``X̃_w = [X ⊙ w, w]``: row ``i`` of ``X̃`` times ``wᵢ``, dense X only.

        A C-ordered float64 ``(n, p̃)`` array (``n·p̃·8`` bytes), written row
        chunk by row chunk with no other temporary. With it, ``B X̃ᵀ diag(w)``
        is one GEMM ``B X̃_wᵀ`` (the per-row scaling of the result and the
        intercept column folded in), written straight into its destination.

        Parameters
        ----------
        w : ndarray of shape (n_samples,)
            The per-row weights.

        Returns
        -------
        X_w : ndarray of shape (n_samples, n_columns)
            ``X̃_w[i] = wᵢ x̃ᵢ``.
        """
        if sp.issparse(self.X):
            raise TypeError("DesignMatrix.weighted needs a dense X (sparse X keeps rdot).")
        X, p = self.X, self.X.shape[1]
        w = np.asarray(w, dtype=np.float64)
        out = np.empty((X.shape[0], self.n_columns))
        for rows in row_chunks(X.shape[0], 8 * p, BLAS_CHUNK_ROWS):
            np.multiply(X[rows], w[rows, None], out=out[rows, :p])
        if self.fit_intercept:
            out[:, p] = w
        return out

    def write_rows_T(self, rows, out):
        """``out ← X̃[rows]ᵀ``: the rows as the columns of ``out`` (p̃, k), in place.

        For a reused F-ordered buffer that a BLAS routine then overwrites
        (the leverages' triangular solves): one copy of the rows, no
        allocation for dense ``X``.
        """
        p = self.X.shape[1]
        Xr = self.X[rows]
        out[:p] = Xr.toarray().T if sp.issparse(Xr) else Xr.T
        if self.fit_intercept:
            out[p] = 1.0
        return out

    def dense_rows(self, index=slice(None)):
        """The rows ``index`` of ``X̃`` as a dense (n_rows, p̃) array.

        Used on chunks sized by ``row_chunks``, never on the whole of a large
        sparse matrix.
        """
        Xr = self.X[index]
        Xr = Xr.toarray() if sp.issparse(Xr) else np.asarray(Xr, dtype=np.float64)
        if self.fit_intercept:
            Xr = np.hstack([Xr, np.ones((Xr.shape[0], 1))])
        return Xr
