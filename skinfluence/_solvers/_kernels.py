"""Numba kernels for the matrix-free solvers (sparse Hessian-vector products, LiSSA).

Compiled lazily on first use and cached on disk (``cache=True``).
"""

import numba
import numpy as np

#: Right-hand-side columns handled together by one thread of the CSR kernel.
COLUMN_BLOCK = 8


@numba.njit(parallel=True, cache=True, fastmath=False)
def csr_hessian_product(indptr, indices, data, intercept, W, V, out):
    """``out[k, :, c] += Σ_i x̃ᵢ Σ_l W[i, k, l] (x̃ᵢᵀ V[l, :, c])`` for CSR ``X``.

    One pass over the rows fuses the three steps of ``X̃ᵀ (W ⊙ (X̃ V))``: the
    row's predictions, the per-sample curvature (a K × K matrix, diagonal for
    decoupled outputs) and the scatter back into parameter space; nothing of
    size ``n`` is allocated. Right-hand-side columns are split into blocks of
    ``COLUMN_BLOCK``, one thread per block (no write conflicts); within a
    block the innermost loop runs over contiguous columns of ``V`` and
    ``out``, so each non-zero touches one cache line.

    Parameters
    ----------
    indptr, indices, data : CSR arrays of ``X`` (n, p)
    intercept : bool
        Whether ``x̃ᵢ`` carries a trailing 1 (parameter index ``p``).
    W : ndarray of shape (n, K, K)
    V : ndarray of shape (K, p̃, r), C-contiguous
    out : ndarray of shape (K, p̃, r), accumulated into
    """
    n = indptr.shape[0] - 1
    K = V.shape[0]
    p = V.shape[1] - 1 if intercept else V.shape[1]
    r = V.shape[2]
    n_blocks = (r + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for b in numba.prange(n_blocks):
        c0 = b * COLUMN_BLOCK
        c1 = min(c0 + COLUMN_BLOCK, r)
        z = np.empty((K, c1 - c0))
        u = np.empty((K, c1 - c0))
        for i in range(n):
            start, stop = indptr[i], indptr[i + 1]
            for k in range(K):
                for c in range(c0, c1):
                    z[k, c - c0] = V[k, p, c] if intercept else 0.0
                for jj in range(start, stop):
                    x, j = data[jj], indices[jj]
                    for c in range(c0, c1):
                        z[k, c - c0] += x * V[k, j, c]
            for k in range(K):
                for c in range(c1 - c0):
                    acc = 0.0
                    for m in range(K):
                        acc += W[i, k, m] * z[m, c]
                    u[k, c] = acc
            for k in range(K):
                for jj in range(start, stop):
                    x, j = data[jj], indices[jj]
                    for c in range(c0, c1):
                        out[k, j, c] += u[k, c - c0] * x
                if intercept:
                    for c in range(c0, c1):
                        out[k, p, c] += u[k, c - c0]


@numba.njit(cache=True)
def lissa_recursion(X, intercept, W, penalty, B, scale, damping, batches, n_total):
    """One LiSSA run: ``v ← b + v − (H_batch v)/scale``, ``depth`` times; returns ``v/scale``.

    ``H_batch v = (n/|B|) Σ_{i∈B} x̃ᵢ W_i (x̃ᵢᵀ v) + (λ + damping) ⊙ v`` is the
    Hessian estimated from a mini-batch of rows (dense ``X``; ``W`` per-row
    K × K curvature). When ``scale`` bounds every mini-batch Hessian's
    largest eigenvalue, ``I − H_batch/scale`` is a contraction and
    ``‖v_t‖ ≤ (t + 1)‖b‖``; an iterate past that bound (or not finite) proves
    divergence, and the run stops and returns NaN.

    Parameters
    ----------
    X : ndarray (n, p), dense
    W : ndarray (n, K, K)
    penalty : ndarray (K, p̃)
    B : ndarray (K, p̃, r)
    batches : ndarray (depth, batch_size) of row indices, one batch per step
    """
    depth = batches.shape[0]
    K, d, r = B.shape
    p = X.shape[1]
    bs = batches.shape[1]
    factor = n_total / bs
    v = B.copy()
    hv = np.empty_like(B)
    z = np.empty((K, r))
    u = np.empty((K, r))
    b_norm = np.sqrt(np.sum(B * B)) + 1e-300
    for t in range(depth):
        for k in range(K):
            for j in range(d):
                for c in range(r):
                    hv[k, j, c] = (penalty[k, j] + damping) * v[k, j, c]
        for bi in range(bs):
            i = batches[t, bi]
            for k in range(K):
                for c in range(r):
                    acc = v[k, p, c] if intercept else 0.0
                    for j in range(p):
                        acc += X[i, j] * v[k, j, c]
                    z[k, c] = acc
            for k in range(K):
                for c in range(r):
                    acc = 0.0
                    for m in range(K):
                        acc += W[i, k, m] * z[m, c]
                    u[k, c] = acc * factor
            for k in range(K):
                for c in range(r):
                    uk = u[k, c]
                    for j in range(p):
                        hv[k, j, c] += uk * X[i, j]
                    if intercept:
                        hv[k, p, c] += uk
        norm2 = 0.0
        for k in range(K):
            for j in range(d):
                for c in range(r):
                    val = B[k, j, c] + v[k, j, c] - hv[k, j, c] / scale
                    v[k, j, c] = val
                    norm2 += val * val
        if not np.isfinite(norm2) or np.sqrt(norm2) > (t + 2) * b_norm * (1.0 + 1e-9):
            v[:] = np.nan
            return v
    return v / scale


@numba.njit(cache=True, parallel=True)
def lissa_repeats(X, intercept, W, penalty, B, scale, damping, batches, n_total):
    """``repeats`` independent LiSSA runs in parallel threads (``numba.prange``).

    ``batches`` has shape (repeats, depth, batch_size); returns the runs'
    results stacked, shape (repeats, K, p̃, r). Each run is
    :func:`lissa_recursion` on its own batches, so the result equals running
    them one after another.
    """
    repeats = batches.shape[0]
    out = np.empty((repeats,) + B.shape)
    for rep in numba.prange(repeats):
        out[rep] = lissa_recursion(X, intercept, W, penalty, B, scale, damping, batches[rep], n_total)
    return out
