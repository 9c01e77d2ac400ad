"""Dense BLAS calls on the hot paths, all through one library: SciPy's.

NumPy and SciPy wheels each bundle their own OpenBLAS, and an OpenBLAS keeps
its worker threads spinning for a while after every threaded call. When the
next call goes to the *other* library, its threads compete with the spinning
ones for the cores. An explainer's fit alternates between them (the Gram
matrix by NumPy's ``@``, then SciPy's Cholesky, solves and ``trsm``), and on
two cores with two BLAS threads this made ``fit`` 3-4x slower than with one
thread (measured, n = 50,000, p = 100: 130-160 ms against 42 ms; 37 ms when
both libraries stop spinning at once, ``OPENBLAS_THREAD_TIMEOUT=4``). The
LAPACK routines skinfluence needs (``potrf``, ``pocon``, ``potrs``, ``trsm``)
exist only in SciPy, so the BLAS-3 and BLAS-2 products of the dense paths go
there too, through these wrappers: ``C = A B``, ``C += Aᵀ A`` and ``y = A x``,
written into the caller's arrays without copies.

Each wrapper takes C- or F-contiguous operands (transposed views included)
and passes them to Fortran BLAS with the matching transpose flag, so nothing
is copied; anything else (a strided slice) is made contiguous first.
"""

import numpy as np
from scipy.linalg import blas as _scipy_blas


def _as_fortran(A):
    """``(a, trans)`` with ``op(a) = A`` and ``a`` F-contiguous (a view when possible)."""
    if A.flags.f_contiguous:
        return A, 0
    if A.flags.c_contiguous:
        return A.T, 1
    return np.asfortranarray(A), 0


def gemm(A, B, out=None):
    """``out ← A @ B`` for 2-D float64 arrays, by SciPy's ``dgemm``.

    ``out`` (C- or F-contiguous, shape ``(m, n)``) is written in place; a new
    C-contiguous array is returned when it is None.
    """
    m, n = A.shape[0], B.shape[1]
    if out is None:
        out = np.empty((m, n))
    if out.flags.f_contiguous and not out.flags.c_contiguous:
        a, ta = _as_fortran(A)
        b, tb = _as_fortran(B)
        res = _scipy_blas.dgemm(1.0, a, b, trans_a=ta, trans_b=tb, c=out, overwrite_c=1)
    else:
        # C-ordered out: its transpose is F-ordered, outᵀ = Bᵀ Aᵀ
        a, ta = _as_fortran(B.T)
        b, tb = _as_fortran(A.T)
        res = _scipy_blas.dgemm(1.0, a, b, trans_a=ta, trans_b=tb, c=out.T, overwrite_c=1)
        res = res.T
    if not np.shares_memory(res, out):  # f2py copied (e.g. a misaligned out)
        out[...] = res
    return out


def syrk_add(A, G):
    """``G ← G + Aᵀ A`` on the lower triangle of the F-contiguous ``G``, by ``dsyrk``.

    ``A`` is ``(k, p)``; only ``G``'s lower triangle is referenced and
    updated (symmetrise with :func:`symmetrize_lower` at the end).
    """
    a, ta = _as_fortran(A)
    if ta:  # a = Aᵀ, F-ordered (p, k): G += a aᵀ
        res = _scipy_blas.dsyrk(1.0, a, beta=1.0, c=G, trans=0, lower=1, overwrite_c=1)
    else:  # a = A, F-ordered (k, p): G += aᵀ a
        res = _scipy_blas.dsyrk(1.0, a, beta=1.0, c=G, trans=1, lower=1, overwrite_c=1)
    if not np.shares_memory(res, G):
        G[...] = res
    return G


def symmetrize_lower(G):
    """Copy the lower triangle of ``G`` onto its upper triangle, in place."""
    upper = np.triu_indices_from(G, 1)
    G[upper] = G.T[upper]
    return G


def gemv(A, x):
    """``A @ x`` for a 2-D float64 ``A`` and a 1-D ``x``, by ``dgemv``; a new array."""
    a, ta = _as_fortran(A)
    return _scipy_blas.dgemv(1.0, a, np.ascontiguousarray(x, dtype=np.float64), trans=ta)
