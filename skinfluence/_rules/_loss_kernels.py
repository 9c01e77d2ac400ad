"""Loss changes ``ℓ(y, z + Δ) − ℓ(y, z)`` in place, elementwise, by Numba kernels.

``method="newton"`` influence evaluates the test loss exactly at the shifted
decision values: for one output, ``out[j, i] = ℓ(y_j, z_j + Δz_ji) − ℓ(y_j, z_j)``
over an ``(n_test, n_train)`` array of shifts. These kernels overwrite the
shifts with the loss changes, in parallel over test points, allocating
nothing of that size. Each kernel has a NumPy twin (``*_np``) that the rules'
``loss_change`` use, with the same cancellation-free formulas; the two agree
to rounding (tested to ``1e-12`` relative).

Softplus (log-loss)
    With ``sp(x) = log(1 + eˣ)``, both the binary log-loss
    (``ℓ = sp(z) − y z``, ``y ∈ {0, 1}``) and the margin log-loss
    (``ℓ = sp(−y z)``, ``y = ±1``) change by ``D(u, δ) = sp(u + δ) − sp(u)``
    for some ``u = ±z``, ``δ = ±Δ`` (``y = 1``: ``sp(z + Δ) − (z + Δ) −
    sp(z) + z = sp(−z − Δ) − sp(−z)``). Exactly, ``D(u, δ) = log1p(σ(u)·
    expm1(δ))`` for ``|δ| ≤ 1`` and ``sp(u + δ) − sp(u)`` beyond (neither
    loses relative accuracy there). Most shifts are small, and two
    transcendental functions per element would cost several times the GEMM
    that produced them; so the kernel sums the Taylor series
    ``D(u, δ) = δ Σ_k g_k δᵏ/(k + 1)``, ``g_k`` the Taylor coefficients of
    ``σ`` at ``u`` (one recursion per test point, from
    ``σ(u + δ)·(σ(u) + σ(−u) e^{−δ}) = σ(u)``), by Horner's rule, with the
    degree chosen per block of 512 shifts from a bound on their magnitude so
    that the neglected tail is below ``2⁻⁵⁶`` of ``|D|`` (``σ`` has its
    nearest poles at ``u ± iπ``: the series converges for ``|δ| < π``;
    ``|δ| ≤ 1/64`` needs about 6 terms, ``|δ| ≤ 1`` about 30). Shifts above 1
    (and NaN) take the exact formula. The bound is the caller's when it has
    one (``newton`` influence: Cauchy–Schwarz in ``H⁻¹``'s inner product,
    ``|Δz_ji| ≤ ‖x̃_j‖_{H⁻¹} · |ŵᵢ| ‖x̃ᵢ‖_{H⁻¹}``), which spares a pass over
    each block to find its largest shift: the kernel then reads and writes
    each shift once, with up to 16 terms in registers (one fused
    multiply-add per term), and is bound by memory rather than arithmetic.

Squared error
    ``f((y − z − Δ)² − (y − z)²) = f Δ (Δ + 2(z − y))``.

Margin losses ``φ(m)``, ``m = y z``, ``δ = y Δ``
    hinge ``max(0, 1 − m)``, squared hinge ``max(0, 1 − m)²`` and modified
    Huber, piece by piece: where both ``m`` and ``m + δ`` lie on the same
    piece the change is written in ``δ`` (``−δ``, ``−δ(2(1 − m) − δ)``,
    ``−4δ``), else as the difference of the two values (one of them is then
    zero or they differ by more than ``δ``'s rounding).
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

#: Taylor terms available to the softplus kernel.
N_TERMS = 40
#: Shifts handled together (the degree is chosen per block).
BLOCK = 512
#: Shifts ``|δ|`` beyond this (and NaN) are evaluated exactly, not by the series.
SERIES_MAX = 1.0
#: Relative truncation error allowed in the series.
SERIES_TOL = 2.0**-56

#: Below this many elements the kernels run on one thread: handing work to a
#: second thread costs more than the work (measured ~1 ms vs 0.15 ms at 40,000).
PARALLEL_MIN_SIZE = 2**18

HINGE, SQUARED_HINGE, MODIFIED_HUBER = 0, 1, 2


def _compiled(func):
    """``func`` compiled by Numba, releasing the GIL, cached on disk.

    The kernels are serial; :func:`_run` splits the rows of ``out`` between
    Python threads. Numba's own ``parallel=True`` uses its OpenMP layer,
    whose idle threads spin and then competed with OpenBLAS's threads for
    the two cores (measured: ``newton`` influence at 5,000 × 50 with two
    threads 8.0 ms vs 3.5 ms with ``OMP_WAIT_POLICY=PASSIVE``); pooled
    Python threads block when idle.
    """
    return numba.njit(nogil=True, cache=True)(func)


_POOLS = {}


def _run(kernel, out, row_args, *scalars):
    """``kernel(out, *row_args, *scalars)`` with the rows split between threads.

    ``row_args`` are arrays with one entry per row of ``out``; as many
    threads as ``numba.get_num_threads()`` (which ``NUMBA_NUM_THREADS`` and
    ``numba.set_num_threads`` set), one when ``out`` is small.
    """
    m = out.shape[0]
    n_threads = min(numba.get_num_threads(), m) if out.size >= PARALLEL_MIN_SIZE else 1
    if n_threads <= 1:
        kernel(out, *row_args, *scalars)
        return
    pool = _POOLS.get(n_threads)
    if pool is None:
        pool = _POOLS[n_threads] = ThreadPoolExecutor(
            n_threads, thread_name_prefix="skinfluence-kernel"
        )
    bounds = np.linspace(0, m, n_threads + 1).astype(int)
    futures = [
        pool.submit(kernel, out[a:b], *(r[a:b] for r in row_args), *scalars)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    for future in futures:
        future.result()


MARGIN_KINDS = {"hinge": HINGE, "squared_hinge": SQUARED_HINGE, "modified_huber": MODIFIED_HUBER}


# --------------------------------------------------------------- softplus
@numba.njit(cache=True)
def _sigmoid_pair(u):
    """``(σ(u), σ(−u))``, each to full relative precision."""
    if u >= 0:
        e = math.exp(-u)
        return 1.0 / (1.0 + e), e / (1.0 + e)
    e = math.exp(u)
    return e / (1.0 + e), 1.0 / (1.0 + e)


@numba.njit(cache=True)
def _softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@numba.njit(cache=True)
def _softplus_diff(u, a, d):
    """``sp(u + d) − sp(u)`` with ``a = σ(u)``, exactly (no series)."""
    if abs(d) <= 1.0:
        return math.log1p(a * math.expm1(d))
    return _softplus(u + d) - _softplus(u)


#: ``(−1)ᵏ / k!`` for ``k = 0 … N_TERMS``, the series recursion's constants.
_SIGNED_INV_FACTORIAL = np.array([(-1.0) ** k / math.factorial(k) for k in range(N_TERMS + 1)])


@numba.njit(cache=True)
def _series(a, b, c, g):
    """``c[k] = g_k / (k + 1)``: ``D(u, δ) = δ Σ_k c_k δᵏ`` with ``a = σ(u)``, ``b = σ(−u)``.

    ``g`` are the Taylor coefficients of ``σ(u + δ)`` in ``δ``; from
    ``σ(u + δ)(a + b e^{−δ}) = a``: ``g_0 = a``,
    ``g_n = −b Σ_{k=1..n} (−1)ᵏ g_{n−k} / k!`` (errors stay relative to ``g``).
    """
    f = _SIGNED_INV_FACTORIAL
    g[0] = a
    for n in range(1, c.size):
        # four partial sums: one running sum is a chain of dependent adds
        s0 = s1 = s2 = s3 = 0.0
        k = 1
        while k + 3 <= n:
            s0 += f[k] * g[n - k]
            s1 += f[k + 1] * g[n - k - 1]
            s2 += f[k + 2] * g[n - k - 2]
            s3 += f[k + 3] * g[n - k - 3]
            k += 4
        while k <= n:
            s0 += f[k] * g[n - k]
            k += 1
        g[n] = -b * ((s0 + s1) + (s2 + s3))
    for k in range(c.size):
        c[k] = g[k] / (k + 1)


@numba.njit(cache=True)
def _degree(c, a, r, terms):
    """Highest power needed for ``|δ| ≤ r``: ``Σ_{k>N} |c_k| rᵏ ≤ tol · a e^{−r}``.

    ``|D(u, δ)| ≥ a e^{−|δ|} |δ|`` (``σ`` falls at most by ``e^{−|δ|}``), so
    the dropped tail is below ``SERIES_TOL`` relative to the result.
    """
    tol = SERIES_TOL * a * math.exp(-r)
    rk = 1.0
    for k in range(c.size):
        terms[k] = abs(c[k]) * rk
        rk *= r
    tail = 0.0
    for k in range(c.size - 1, 0, -1):
        tail += terms[k]
        if tail > tol:
            return k
    return 0


@numba.njit(cache=True)
def _largest(blk):
    """``max |blk[i]|`` (NaN entries are skipped: a NaN shift stays NaN anyway)."""
    biggest = 0.0
    for i in range(blk.size):
        x = abs(blk[i])
        biggest = x if x > biggest else biggest
    return biggest


# Horner's rule for ``δ Σ_{k<8} c_k δᵏ`` (and 16 terms below), δ = sj·blk[i]:
# the coefficients sit in registers and the loop over the block vectorises, one
# fused multiply-add per term and value. Coefficients above the degree are
# zero, which leaves the sum unchanged.
@numba.njit(cache=True, fastmath={"contract"})
def _horner_8(blk, sj, c):
    c0, c1, c2, c3, c4, c5, c6, c7 = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    for i in range(blk.size):
        x = sj * blk[i]
        a = c7 * x + c6
        a = a * x + c5
        a = a * x + c4
        a = a * x + c3
        a = a * x + c2
        a = a * x + c1
        a = a * x + c0
        blk[i] = a * x


@numba.njit(cache=True, fastmath={"contract"})
def _horner_16(blk, sj, c):
    c0, c1, c2, c3, c4, c5, c6, c7 = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    c8, c9, c10, c11, c12, c13, c14, c15 = (
        c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15]
    )
    for i in range(blk.size):
        x = sj * blk[i]
        a = c15 * x + c14
        a = a * x + c13
        a = a * x + c12
        a = a * x + c11
        a = a * x + c10
        a = a * x + c9
        a = a * x + c8
        a = a * x + c7
        a = a * x + c6
        a = a * x + c5
        a = a * x + c4
        a = a * x + c3
        a = a * x + c2
        a = a * x + c1
        a = a * x + c0
        blk[i] = a * x


@numba.njit(cache=True, fastmath={"contract"})
def _horner_any(blk, sj, c, N, acc, d):
    """Horner of degree ``N`` by passes over the block (any degree), in ``acc``."""
    L = blk.size
    for i in range(L):
        d[i] = sj * blk[i]
        acc[i] = c[N]
    for k in range(N - 1, -1, -1):
        ck = c[k]
        for i in range(L):
            acc[i] = acc[i] * d[i] + ck
    for i in range(L):
        acc[i] *= d[i]


def _softplus_change(out, sign, u, row_bound, block_bound):
    """``out[j, i] ← sp(u_j + sign_j·out[j, i]) − sp(u_j)`` in place.

    Parameters
    ----------
    out : ndarray of shape (m, n), C-contiguous, float64
        The shifts ``Δ``; overwritten with the loss changes (NaN stays NaN).
    sign : ndarray of shape (m,)
        ``±1``: ``δ = sign·Δ``.
    u : ndarray of shape (m,)
        Where the softplus is expanded.
    row_bound, block_bound : ndarray of shape (m,) and (ceil(n / BLOCK),)
        ``|out[j, i]| ≤ row_bound[j]·block_bound[i // BLOCK]`` (``inf`` when
        nothing is known). The degree of each block's series comes from
        this bound when it keeps the degree below 16, which spares a pass
        over the block to find its largest shift; else from that pass.
    """
    m, n = out.shape
    top = SERIES_MAX
    c = np.empty(N_TERMS + 1)
    padded = np.zeros(16)
    scratch = np.empty(N_TERMS + 1)
    acc = np.empty(BLOCK)
    d = np.empty(BLOCK)
    for j in range(m):
        row = out[j]
        uj, sj = u[j], sign[j]
        a, b = _sigmoid_pair(uj)
        _series(a, b, c, scratch)
        for s in range(0, n, BLOCK):
            blk = row[s : min(s + BLOCK, n)]
            r = row_bound[j] * block_bound[s // BLOCK]
            N = _degree(c, a, r, scratch) if r <= top else N_TERMS + 1
            if N > 15:  # the bound is loose or absent: the block's own largest |δ|
                r = _largest(blk)
                N = _degree(c, a, min(r, top), scratch)
            if r <= top and N < 16:
                for k in range(16):
                    padded[k] = c[k] if k <= N else 0.0
                if N < 8:
                    _horner_8(blk, sj, padded)
                else:
                    _horner_16(blk, sj, padded)
                continue
            _horner_any(blk, sj, c, N, acc, d)
            if not r <= top:  # shifts beyond the series (or NaN): the exact formula
                for i in range(blk.size):
                    x = d[i]
                    if not abs(x) <= top:
                        acc[i] = x if x != x else _softplus_diff(uj, a, x)
            blk[:] = acc[: blk.size]


def _softplus_np(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def softplus_diff_np(u, d):
    """``sp(u + d) − sp(u)`` elementwise (NumPy; the kernel's exact formula)."""
    u, d = np.broadcast_arrays(np.asarray(u, dtype=np.float64), np.asarray(d, dtype=np.float64))
    e = np.exp(-np.abs(u))
    a = np.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    with np.errstate(over="ignore", invalid="ignore"):
        small = np.log1p(a * np.expm1(np.minimum(d, 1.0)))
        large = _softplus_np(u + d) - _softplus_np(u)
    return np.where(np.abs(d) <= 1.0, small, large)


# ---------------------------------------------------------- squared error
def _squared_change(out, c, factor):
    """``out[j, i] ← factor · Δ (Δ + c_j)`` in place, ``c_j = 2(z_j − y_j)``."""
    m, n = out.shape
    for j in range(m):
        row = out[j]
        cj = c[j]
        for i in range(n):
            d = row[i]
            row[i] = factor * (d * (d + cj))


# --------------------------------------------------------- margin losses
@numba.njit(cache=True)
def _from_two(x):
    """Modified Huber in ``x = 1 − m``, minus its value 4 at ``x = 2``: exact near 2."""
    if x > 2.0:
        return 4.0 * (x - 2.0)
    if x > 0.0:
        return (x - 2.0) * (x + 2.0)
    return -4.0


@numba.njit(cache=True)
def _margin_diff(kind, mg, d):
    """``φ(mg + d) − φ(mg)`` in ``a = 1 − mg`` and ``b = a − d``, piece by piece."""
    if d != d:
        return d
    a = 1.0 - mg
    b = a - d
    if a <= 0.0 and b <= 0.0:
        return 0.0
    if kind == HINGE:
        if a > 0.0 and b > 0.0:
            return -d
        return b if b > 0.0 else -a
    if kind == SQUARED_HINGE or (a <= 2.0 and b <= 2.0):
        if a > 0.0 and b > 0.0:
            return -d * (a + b)
        return b * b if b > 0.0 else -a * a
    if a > 2.0 and b > 2.0:  # modified Huber's linear piece, 4·(1 − m) − 4
        return -4.0 * d
    return _from_two(b) - _from_two(a)  # crosses 1 − m = 2


def _margin_change(out, y, z, kind):
    """``out[j, i] ← φ(y_j(z_j + Δ)) − φ(y_j z_j)`` in place for ``φ`` of ``kind``."""
    m, n = out.shape
    for j in range(m):
        row = out[j]
        yj = y[j]
        mg = yj * z[j]
        for i in range(n):
            row[i] = _margin_diff(kind, mg, yj * row[i])


def _from_two_np(x):
    return np.where(x > 2.0, 4.0 * (x - 2.0), np.where(x > 0.0, (x - 2.0) * (x + 2.0), -4.0))


def margin_diff_np(kind, mg, d):
    """``φ(mg + d) − φ(mg)`` elementwise (NumPy twin of the kernel, same pieces)."""
    mg, d = np.broadcast_arrays(np.asarray(mg, dtype=np.float64), np.asarray(d, dtype=np.float64))
    a = 1.0 - mg
    b = a - d
    both = (a > 0.0) & (b > 0.0)
    none = (a <= 0.0) & (b <= 0.0)
    if kind == HINGE:
        out = np.where(both, -d, np.where(b > 0.0, b, -a))
    else:
        out = np.where(both, -d * (a + b), np.where(b > 0.0, b * b, -a * a))
        if kind == MODIFIED_HUBER:
            beyond = (a > 2.0) | (b > 2.0)
            linear = (a > 2.0) & (b > 2.0)
            out = np.where(
                beyond, np.where(linear, -4.0 * d, _from_two_np(b) - _from_two_np(a)), out
            )
    return np.where(np.isnan(d), d, np.where(none, 0.0, out))


_SOFTPLUS = _compiled(_softplus_change)
_SQUARED = _compiled(_squared_change)
_MARGIN = _compiled(_margin_change)


def softplus_change(out, sign, u, bound=None):
    """``out[j, i] ← sp(u_j + sign_j·out[j, i]) − sp(u_j)`` in place (see ``_softplus_change``).

    ``bound``: optional ``(row, col)`` with ``|out[j, i]| ≤ row[j]·col[i]``.
    """
    m, n = out.shape
    if bound is None:
        row, block = np.full(m, np.inf), np.full(-(-n // BLOCK), np.inf)
    else:
        row = np.ascontiguousarray(bound[0], dtype=np.float64)
        # a bound of the computed shifts, which carry rounding: widened by 1e-8
        block = np.maximum.reduceat(bound[1], np.arange(0, n, BLOCK)) * (1.0 + 1e-8)
    _run(_SOFTPLUS, out, (sign, u, row), block)


def squared_change(out, c, factor):
    """``out[j, i] ← factor · Δ (Δ + c_j)`` in place, ``c_j = 2(z_j − y_j)``."""
    _run(_SQUARED, out, (c,), float(factor))


def margin_change(out, y, z, kind):
    """``out[j, i] ← φ(y_j(z_j + Δ)) − φ(y_j z_j)`` in place for ``φ`` of ``kind``."""
    _run(_MARGIN, out, (y, z), int(kind))
