"""Benchmark: exact self-influence of every document of a large bag of words (issue 16, target 4).

A synthetic bag of words (``--n`` documents, ``--p`` terms, Zipf term
frequencies, ~``--nnz`` distinct terms per document, tf-idf with sublinear tf
and L2-normalised rows, binary labels from a sparse linear rule plus noise),
binary LogisticRegression (lbfgs, tight tol: scikit-learn's own objective,
intercept unpenalised) fitted outside the timings. Timed: ``fit`` of
``InfluenceExplainer(solver="dual")`` with the capacitance in lower-triangle
tiles (``solver_params={"tile": ...}``: tiled Cholesky of the ``n × n``
capacitance, tiled triangular inverse, ``diag(G⁻¹)``) and ``self_influence()``
of every row (first order; newton from the same leverages). Peak memory: the
process's peak resident set size (``resource.getrusage``), sampled also by a
thread reading ``/proc/self/statm`` so the peak of the explainer alone is
known. Exactness: on ``--check`` random rows, ``qᵢ = x̃ᵢᵀ H⁻¹ x̃ᵢ`` by an
independent preconditioned conjugate gradient on the primal sparse Hessian
``H = X̃ᵀ W X̃ + Λ`` (all rows' systems in lockstep, relative residual
``1e-13``), and from it the leverage and both self-influences by their formulas.

Run: ``python benchmarks/bench_bow.py --n 50000 --p 100000 [--tile 5000] [--tests 10]``;
``--flops`` prints the flop count and the DGEMM rate measured in the same
process (the time floor of the tiled path).
"""

import argparse
import resource
import threading
import time
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression

from skinfluence import InfluenceExplainer
from skinfluence._solvers import _tiled

#: wall time of each phase of the tiled dual (filled by ``timed_phase``)
PHASES = {}


def timed_phase(name, f):
    """Wrap ``f`` so that its wall time adds to ``PHASES[name]`` (benchmark-side only)."""

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            PHASES[name] = PHASES.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


_tiled.build_capacitance = timed_phase("capacitance tiles", _tiled.build_capacitance)
_tiled.TiledLower.cholesky = timed_phase("tiled Cholesky", _tiled.TiledLower.cholesky)
_tiled.TiledLower.invert = timed_phase("tiled inverse", _tiled.TiledLower.invert)


def bag_of_words(n, p, nnz, seed=0):
    """Zipf counts, tf-idf (sublinear tf, L2 rows); labels from a sparse rule plus noise."""
    rng = np.random.default_rng(seed)
    freq = 1.0 / np.arange(1, p + 1) ** 1.05
    freq /= freq.sum()
    draws = int(nnz * 1.6)  # duplicates collapse: ~nnz distinct terms per row
    cols = rng.choice(p, size=n * draws, p=freq)
    rows = np.repeat(np.arange(n), draws)
    counts = sp.csr_matrix((np.ones(n * draws), (rows, cols)), shape=(n, p))
    counts.sum_duplicates()
    X = TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()
    w = rng.normal(size=p) * (rng.random(p) < 0.05) * 10
    z = X @ w
    y = (z + 0.5 * z.std() * rng.normal(size=n) > np.median(z)).astype(int)
    return X, y


class PeakRSS:
    """Peak resident set size (GB) of this process while the block runs, sampled every 0.2 s."""

    def __enter__(self):
        self.peak, self._stop = 0, False
        self._page = resource.getpagesize()

        def run():
            while not self._stop:
                with open("/proc/self/statm") as f:
                    self.peak = max(self.peak, int(f.read().split()[1]) * self._page)
                time.sleep(0.2)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()
        self.peak /= 1e9


def rss_gb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e9


def primal_pcg(X, w, lam, B, rtol=1e-13, maxiter=20_000):
    """``H⁻¹ B`` for ``H = X̃ᵀ diag(w) X̃ + diag(lam)`` (``X̃ = [X, 1]``), Jacobi-preconditioned CG.

    Written here, independent of skinfluence's solvers: every column of ``B``
    is its own CG run, the runs advance in lockstep (one sparse product per
    iteration for all of them).
    """
    p = X.shape[1]

    def H(V):
        Z = X @ V[:p] + V[p]
        WZ = w[:, None] * Z
        return np.vstack([X.T @ WZ, WZ.sum(axis=0, keepdims=True)]) + lam[:, None] * V

    diag = np.concatenate([np.asarray(X.multiply(X).T @ w).ravel(), [w.sum()]]) + lam
    V = np.zeros_like(B)
    R = B.copy()
    Zp = R / diag[:, None]
    P = Zp.copy()
    rz = np.einsum("ij,ij->j", R, Zp)
    bnorm = np.linalg.norm(B, axis=0)
    for it in range(maxiter):
        HP = H(P)
        alpha = rz / np.einsum("ij,ij->j", P, HP)
        V += alpha * P
        R -= alpha * HP
        if np.all(np.linalg.norm(R, axis=0) <= rtol * bnorm):
            return V, it + 1
        Zp = R / diag[:, None]
        rz_new = np.einsum("ij,ij->j", R, Zp)
        P = Zp + (rz_new / rz) * P
        rz = rz_new
    raise RuntimeError(f"primal CG did not reach {rtol} in {maxiter} iterations")


def dgemm_rate(size=4000):
    """GFLOP/s of one large DGEMM in this process (the reference of the flop floor)."""
    a = np.random.default_rng(0).random((size, size))
    b = a.copy()
    a @ b
    t0 = time.perf_counter()
    a @ b
    return 2 * size**3 / (time.perf_counter() - t0) / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--p", type=int, default=100_000)
    ap.add_argument("--nnz", type=int, default=100)
    ap.add_argument("--tile", type=int, default=5000)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--check", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flops", action="store_true")
    ap.add_argument("--tests", type=int, default=0,
                    help="also time influence() on this many held-out documents")
    args = ap.parse_args()

    t0 = time.perf_counter()
    X, y = bag_of_words(args.n + args.tests, args.p, args.nnz, args.seed)
    X, y, X_test, y_test = X[: args.n], y[: args.n], X[args.n :], y[args.n :]
    n, p = X.shape
    print(f"n={n} p={p} nnz/row={X.nnz / n:.1f} positives={y.mean():.2f} "
          f"(data {time.perf_counter() - t0:.1f} s)", flush=True)
    t0 = time.perf_counter()
    clf = LogisticRegression(C=args.C, tol=1e-10, max_iter=20_000).fit(X, y)
    print(f"LogisticRegression(lbfgs, C={args.C}, tol=1e-10): {time.perf_counter() - t0:.1f} s, "
          f"{clf.n_iter_[0]} iterations (not timed below)", flush=True)
    rate = dgemm_rate() if args.flops else None

    rss0 = rss_gb()
    expl = InfluenceExplainer(solver="dual", solver_params={"tile": args.tile})
    with PeakRSS() as peak_fit:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the model is at its optimum: no warning expected
            expl.fit(clf, X, y)
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        si = expl.self_influence()
        t_self = time.perf_counter() - t0
    block = expl._inverse.blocks[0]
    print(f"explainer fit: {t_fit:.1f} s, self_influence: {t_self:.2f} s, total "
          f"{(t_fit + t_self) / 60:.1f} min; tiles {block.G.n_tiles} of <= "
          f"{block.G.bounds[1]} rows ({block.G.nbytes / 1e9:.2f} GB); rows by the direct "
          f"formula: {block.n_direct_rows_}; refine iterations {expl.n_refine_iter_}, "
          f"stationarity_ {expl.stationarity_:.1e}", flush=True)
    print(f"peak RSS during fit + self_influence: {peak_fit.peak:.2f} GB (sampled; "
          f"{rss0:.2f} GB before); process peak (getrusage): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9:.2f} GB", flush=True)
    rest = t_fit + t_self - sum(PHASES.values())
    print("phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in PHASES.items())
          + f", everything else {rest:.1f} s; Cholesky at "
          f"{n**3 / 3 / PHASES['tiled Cholesky'] / 1e9:.1f} GFLOP/s, inverse at "
          f"{n**3 / 3 / PHASES['tiled inverse'] / 1e9:.1f} GFLOP/s", flush=True)
    if rate:
        flops = 2 * n**3 / 3
        rate = (rate + dgemm_rate()) / 2  # before and after: the load changes
        print(f"flops of Cholesky + triangular inverse: {flops:.2e}; DGEMM {rate:.1f} GFLOP/s "
              f"in this process (mean of before and after) -> floor {flops / rate / 1e9:.0f} s; "
              f"measured/floor {(PHASES['tiled Cholesky'] + PHASES['tiled inverse']) / (flops / rate / 1e9):.2f}",
              flush=True)
    if args.tests:
        t0 = time.perf_counter()
        infl = expl.influence(X_test, y_test)
        print(f"influence on {args.tests} held-out documents (tiled products with L⁻¹): "
              f"{time.perf_counter() - t0:.1f} s, shape {infl.shape}", flush=True)
    lev = expl.leverage()
    expl.set_params(method="newton")  # same leverages; newton weights from them
    si_newton = expl.self_influence()

    # ---- exactness: an independent primal CG on `--check` random rows
    rng = np.random.default_rng(args.seed + 1)
    rows = np.sort(rng.choice(n, size=min(args.check, n), replace=False))
    theta = np.asarray(expl.params_).ravel()  # the explainer's (polished, if refine ran)
    z = X @ theta[:p] + theta[p]
    prob = expit(z)
    w = args.C * prob * (1 - prob)
    lam = np.concatenate([np.ones(p), [0.0]])  # LogisticRegression: ½‖w‖², intercept free
    Xr = np.hstack([X[rows].toarray(), np.ones((rows.size, 1))])
    t0 = time.perf_counter()
    V, n_iter = primal_pcg(X, w, lam, np.ascontiguousarray(Xr.T))
    t_cg = time.perf_counter() - t0
    q = np.einsum("ij,ji->i", Xr, V)
    r = prob[rows] - y[rows]
    h_ref = w[rows] * q
    si_ref = args.C * r**2 * q
    dz = args.C * r * q / (1 - h_ref)
    yr = y[rows]

    def loss(zz):
        return -log_expit(zz) + (1 - yr) * zz  # log(1 + e^z) − y z

    si_newton_ref = loss(z[rows] + dz) - loss(z[rows])

    def rel(a, b):
        return float(np.max(np.abs(a - b) / np.abs(b)))

    print(f"primal CG on {rows.size} rows: {n_iter} iterations, {t_cg:.1f} s")
    print(f"max relative difference on those rows: leverage {rel(lev[rows], h_ref):.1e}, "
          f"self-influence (first order) {rel(si[rows], si_ref):.1e}, "
          f"self-influence (newton) {rel(si_newton[rows], si_newton_ref):.1e}")
    print(f"leverage range {lev.min():.2e} .. {lev.max():.3f}; self-influence range "
          f"{si.min():.2e} .. {si.max():.2e}")


if __name__ == "__main__":
    main()
