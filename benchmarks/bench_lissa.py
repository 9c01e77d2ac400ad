"""Benchmark (issue 16, target 5): LiSSA's repeats in parallel threads, 1 vs 2 cores.

``InfluenceExplainer(solver="lissa")`` runs its ``repeats`` independent
recursions in parallel Numba threads (``numba.prange``). This script times
``influence`` for ``m`` test points with ``numba.set_num_threads(1)`` and
``(2)`` (BLAS limited to the same number through ``threadpoolctl``), for each
``repeats`` value, on binary logistic regression with dense synthetic data,
and reports the speed-up. The results with 1 and 2 threads must be identical
(same random stream, asserted to 1e-12); their distance from the exact
(Cholesky) values is reported too.

The default problem (n = 20,000, p = 200, m = 20 test points, the paper's
``recursion_depth=5000``, ``batch_size=50``) takes roughly 5–20 s per
``influence`` call with one thread and ``repeats=2``. Times are the best of
``--repeat-timing`` calls (default 2) after a warm-up call that compiles the
kernels.

Run: ``python benchmarks/bench_lissa.py [--quick] [--n 20000] [--p 200]
[--tests 20] [--repeats 2 4] [--depth 5000]``; prints a Markdown table (see
benchmarks/README.md).
"""

import argparse
import os
import platform
import time
import warnings

import numba
import numpy as np
from bench_first_order import make_data  # the same binary data as targets 1 and 2
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from skinfluence import InfluenceExplainer


def best_time(f, k):
    best, out = np.inf, None
    for _ in range(k):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--p", type=int, default=None)
    ap.add_argument("--tests", type=int, default=None, help="test points (m)")
    ap.add_argument("--repeats", type=int, nargs="+", default=[2, 4], help="LiSSA repeats")
    ap.add_argument("--depth", type=int, default=None, help="recursion_depth")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--repeat-timing", type=int, default=2, help="timed calls (best of)")
    args = ap.parse_args()
    n = args.n or (2_000 if args.quick else 20_000)
    p = args.p or (20 if args.quick else 200)
    m = args.tests or (2 if args.quick else 20)
    depth = args.depth or (300 if args.quick else 5_000)
    X, y, Xt, yt = make_data("logistic", n, p, m)
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10).fit(X, y)
    exact = InfluenceExplainer(solver="cholesky").fit(clf, X, y).influence(Xt, yt)
    max_threads = numba.config.NUMBA_NUM_THREADS
    print(f"# bench_lissa: n = {n}, p = {p}, m = {m} test points, recursion_depth = {depth}, "
          f"batch_size = {args.batch_size}\n")
    print(f"- {platform.machine()}, {os.cpu_count()} logical cores, Numba {numba.__version__} "
          f"(NUMBA_NUM_THREADS = {max_threads}), numpy {np.__version__}")
    try:
        print(f"- load average at start: {os.getloadavg()[0]:.2f}")
    except OSError:  # pragma: no cover
        pass
    print()
    print("| repeats | threads | explainer fit (s) | influence (s) | speed-up vs 1 thread "
          "| identical to 1 thread | max rel. diff vs exact | Pearson R vs exact |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|")
    t_start = time.perf_counter()
    for repeats in args.repeats:
        params = dict(recursion_depth=depth, repeats=repeats, batch_size=args.batch_size,
                      random_state=0)
        ref = t1 = None
        for threads in (1, 2):
            if threads > max_threads:
                print(f"| {repeats} | {threads} | | | not run (NUMBA_NUM_THREADS = {max_threads}) | | | |")
                continue
            numba.set_num_threads(threads)
            with threadpool_limits(limits=threads), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                expl = InfluenceExplainer(solver="lissa", solver_params=params).fit(clf, X, y)
                t_fit = time.perf_counter() - t0
                expl.influence(Xt[:1], yt[:1])  # warm-up: compilation, thread pool start
                infl, t = best_time(lambda e=expl: e.influence(Xt, yt), args.repeat_timing)
            if ref is None:
                ref, t1 = infl, t
                same = "reference"
            else:
                diff = float(np.abs(infl - ref).max() / np.abs(ref).max())
                assert diff <= 1e-12, f"2 threads differ from 1 thread by {diff:.1e}"
                same = f"yes ({diff:.0e})"
            err = float(np.abs(infl - exact).max() / np.abs(exact).max())
            r = np.corrcoef(infl.ravel(), exact.ravel())[0, 1]
            print(f"| {repeats} | {threads} | {t_fit:.2f} | {t:.2f} | {t1 / t:.2f} | {same} | "
                  f"{err:.1e} | {r:.5f} |", flush=True)
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region ran
        layer = "none"
    print(f"\nNumba threading layer: {layer}. Total wall time {time.perf_counter() - t_start:.0f} s.")


if __name__ == "__main__":
    main()
