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

import ctypes
import functools

import numpy as np
from numba.extending import get_cython_function_address
from scipy.linalg import blas as _scipy_blas


def _as_fortran(A):
    """``(a, trans)`` with ``op(a) = A`` and ``a`` F-contiguous (a view when possible)."""
    if A.flags.f_contiguous:
        return A, 0
    if A.flags.c_contiguous:
        return A.T, 1
    return np.asfortranarray(A), 0


def gemm(A, B, out=None):
    """``out ← A @ B`` for 2-D float64 arrays, by ``dgemm`` (:func:`dgemm_nogil`).

    ``out`` (shape ``(m, n)``, C- or F-contiguous to be written in place) is
    returned; a new C-contiguous array when it is None.
    """
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    m, n = A.shape[0], B.shape[1]
    if out is None:
        out = np.empty((m, n))
    if out.flags.f_contiguous:
        a, ta = _as_fortran(A)
        b, tb = _as_fortran(B)
        dgemm_nogil(1.0, a, b, 0.0, out, trans_a=ta, trans_b=tb)
    elif out.flags.c_contiguous:
        # C-ordered out: its transpose is F-ordered, outᵀ = Bᵀ Aᵀ
        a, ta = _as_fortran(B.T)
        b, tb = _as_fortran(A.T)
        dgemm_nogil(1.0, a, b, 0.0, out.T, trans_a=ta, trans_b=tb)
    else:  # a strided view: through a contiguous temporary
        out[...] = gemm(A, B)
    return out


def syrk_add(A, G):
    """``G ← G + Aᵀ A`` on the lower triangle of the F-contiguous ``G``, by ``dsyrk``.

    ``A`` is ``(k, p)``; only ``G``'s lower triangle is referenced and
    updated (symmetrise with :func:`symmetrize_lower` at the end).
    """
    a, ta = _as_fortran(np.asarray(A, dtype=np.float64))
    # ta: a = Aᵀ, F-ordered (p, k), G += a aᵀ; else a = A, F-ordered (k, p), G += aᵀ a
    return dsyrk_lower_nogil(1.0, a, 1.0, G, trans=not ta)


def symmetrize_lower(G):
    """Copy the lower triangle of ``G`` onto its upper triangle, in place."""
    upper = np.triu_indices_from(G, 1)
    G[upper] = G.T[upper]
    return G


def gemv(A, x):
    """``A @ x`` for a 2-D float64 ``A`` and a 1-D ``x``, by ``dgemv``; a new array."""
    a, ta = _as_fortran(A)
    return _scipy_blas.dgemv(1.0, a, np.ascontiguousarray(x, dtype=np.float64), trans=ta)


# ------------------------------------------------- calls that release the GIL
# SciPy's ``scipy.linalg.blas`` wrappers (f2py) hold the GIL while BLAS runs
# (measured, SciPy 1.17: two single-threaded 1,000³ GEMMs on two Python
# threads take as long as one after the other). The same Fortran routines,
# called through the C pointers SciPy exports in ``scipy.linalg.cython_blas``
# by ctypes, release it: two threads then run two products at once (0.049 s
# against 0.090 s). :func:`gemm` and :func:`syrk_add` go through them too, so
# no product of the hot paths holds the GIL.

_POINTER = ctypes.c_void_p
_CHAR = {flag: ctypes.c_char(flag.encode()) for flag in "NTLR"}


@functools.cache
def _routine(name, n_args):
    """The Fortran BLAS routine ``name`` of SciPy's library, as a ctypes function."""
    address = get_cython_function_address("scipy.linalg.cython_blas", name)
    return ctypes.CFUNCTYPE(None, *([_POINTER] * n_args))(address)


def _fortran(a, name):
    """``(pointer, leading dimension)`` of an F-contiguous float64 2-D ``a``."""
    if a.ndim != 2 or a.dtype != np.float64 or not a.flags.f_contiguous:
        raise ValueError(f"{name} must be an F-contiguous 2-D float64 array.")
    return a.ctypes.data, ctypes.c_int(max(1, a.shape[0]))


def _call(name, *args):
    """Call BLAS ``name``: ints and floats passed by reference, pointers as they are."""
    refs, keep = [], []
    for arg in args:
        if isinstance(arg, str):
            arg = _CHAR[arg]
        elif isinstance(arg, float):
            arg = ctypes.c_double(arg)
        elif isinstance(arg, int) and not isinstance(arg, bool):
            refs.append(arg)  # a pointer (array data)
            continue
        keep.append(arg)
        refs.append(ctypes.byref(arg))
    _routine(name, len(args))(*refs)


def _dims(*values):
    return [ctypes.c_int(int(v)) for v in values]


def dgemm_nogil(alpha, a, b, beta, c, trans_a=False, trans_b=False):
    """``c ← α op(a) op(b) + β c`` in place (``op`` transposes when asked); GIL released.

    Every operand F-contiguous float64 (a column slice of an F-ordered array
    is); ``c`` is ``(m, n)``.
    """
    (pa, lda), (pb, ldb), (pc, ldc) = _fortran(a, "a"), _fortran(b, "b"), _fortran(c, "c")
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return c
    dm, dn, dk = _dims(m, n, k)
    _call("dgemm", "NT"[trans_a], "NT"[trans_b], dm, dn, dk, float(alpha), pa, lda, pb, ldb,
          float(beta), pc, ldc)
    return c


def dsyrk_lower_nogil(alpha, a, beta, c, trans=False):
    """``c ← α a aᵀ + β c`` (``α aᵀ a`` with ``trans``) on ``c``'s lower triangle; GIL released."""
    (pa, lda), (pc, ldc) = _fortran(a, "a"), _fortran(c, "c")
    n = c.shape[0]
    k = a.shape[0] if trans else a.shape[1]
    if n == 0:
        return c
    dn, dk = _dims(n, k)
    _call("dsyrk", "L", "NT"[trans], dn, dk, float(alpha), pa, lda, float(beta), pc, ldc)
    return c


def _triangular(name, alpha, a, b, right, trans):
    (pa, lda), (pb, ldb) = _fortran(a, "a"), _fortran(b, "b")
    m, n = b.shape
    if m == 0 or n == 0:
        return b
    dm, dn = _dims(m, n)
    _call(name, "R" if right else "L", "L", "NT"[trans], "N",
          dm, dn, float(alpha), pa, lda, pb, ldb)
    return b


def dtrsm_lower_nogil(alpha, a, b, right=False, trans=False):
    """``b ← α op(a)⁻¹ b`` (``α b op(a)⁻¹`` with ``right``), ``a`` lower triangular; GIL released."""
    return _triangular("dtrsm", alpha, a, b, right, trans)


def dtrmm_lower_nogil(alpha, a, b, right=False, trans=False):
    """``b ← α op(a) b`` (``α b op(a)`` with ``right``), ``a`` lower triangular; GIL released."""
    return _triangular("dtrmm", alpha, a, b, right, trans)
