"""Benchmark (issue 16, target 6): peak memory of the explainer's bulk methods.

Binary ``LogisticRegression`` on dense synthetic data (default n = 50,000
training rows, p = 100 features, m = 2,000 test points). For
``method="first_order"`` and ``"newton"``, the peak of NumPy's and Python's
allocations (``tracemalloc``) during each call, above what was held before
it, against the budget the issue sets:

    result + working_memory + fitted state

- ``influence(X_test, y_test)``: result ``8 m n`` bytes;
- ``params_change(indices)`` for ``--rows`` training rows (default 5,000):
  result ``8 · rows · n_params``;
- ``group_influence(groups, X_test, y_test)``: ``--groups`` disjoint random
  groups (default 2,000 groups of n/2,000 rows, covering every row): result
  ``8 m · n_groups``;
- ``metric_influence(X_test, y_test, scoring)``: ``neg_log_loss`` (both
  methods) and ``roc_auc`` (newton only: AUROC has no derivative): result
  ``8 n``.

``working_memory`` is ``sklearn.get_config()["working_memory"]`` (MiB;
``--working-memory`` sets it for the run). The **fitted state** is reported two
ways: the bytes of the explainer's own fitted arrays (walking its attributes
and those of its solver, rule and design objects, each buffer counted once,
the training ``X``/``y`` the caller owns left out), and what tracemalloc saw
retained by ``fit``. The call's peak is measured from a tracemalloc snapshot
taken after ``fit`` and a warm-up call on two test points (lazily computed
per-row state, such as the newton weights, belongs to the fitted state).
Each call is also timed (one run; the machine is shared).

Run: ``python benchmarks/bench_memory.py [--quick] [--n 50000] [--p 100]
[--n-test 2000] [--rows 5000] [--groups 2000] [--working-memory 1024]``;
prints a Markdown table (see benchmarks/README.md).
"""

import argparse
import os
import platform
import time
import tracemalloc
import warnings

import numpy as np
import sklearn
from bench_first_order import make_data  # the same binary data as targets 1 and 2
from sklearn.linear_model import LogisticRegression

from skinfluence import InfluenceExplainer


def _root(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def fitted_array_bytes(obj, exclude):
    """Bytes of the ndarrays an explainer holds (recursing into skinfluence objects).

    Each underlying buffer is counted once; arrays sharing memory with one
    of ``exclude`` (the caller's training data) are left out.
    """
    seen_objs, roots = set(), {}

    def visit(v):
        if id(v) in seen_objs:
            return
        seen_objs.add(id(v))
        if isinstance(v, np.ndarray):
            r = _root(v)
            if not any(np.shares_memory(r, e) for e in exclude):
                roots[id(r)] = r.nbytes
        elif isinstance(v, (list, tuple)):
            for x in v:
                visit(x)
        elif isinstance(v, dict):
            for x in v.values():
                visit(x)
        elif type(v).__module__.startswith("skinfluence"):
            for x in getattr(v, "__dict__", {}).values():
                visit(x)
            for name in getattr(type(v), "__slots__", ()):
                visit(getattr(v, name, None))

    visit(obj)
    return sum(roots.values())


def measure(f):
    """``(result, seconds, peak bytes above the memory traced before the call)``."""
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    out = f()
    t = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - before
    return out, t, peak


def run(args):
    X, y, Xt, yt = make_data("logistic", args.n, args.p, args.n_test)
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10).fit(X, y)
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(args.n, size=min(args.rows, args.n), replace=False))
    labels = rng.permutation(np.arange(args.n) % args.groups)  # disjoint groups covering every row
    groups = [np.flatnonzero(labels == g) for g in range(args.groups)]
    wm = sklearn.get_config()["working_memory"] * 2**20
    # warm-up outside the measurements: lazy imports, Numba compilation, caches
    for method in ("first_order", "newton"):
        e = InfluenceExplainer(method=method).fit(clf, X, y)
        e.influence(Xt[:5], yt[:5])
        e.params_change(rows[:5])
        e.group_influence(groups[:5], Xt[:5], yt[:5])
        e.metric_influence(Xt[:50], yt[:50], scoring="neg_log_loss")
        if method == "newton":
            e.metric_influence(Xt[:50], yt[:50], scoring="roc_auc")
        del e
    results = []
    for method in ("first_order", "newton"):
        tracemalloc.start()
        t0 = time.perf_counter()
        expl = InfluenceExplainer(method=method).fit(clf, X, y)
        t_fit = time.perf_counter() - t0
        # lazy per-row state (newton weights) belongs to the fitted state
        expl.influence(Xt[:2], yt[:2])
        traced_state = tracemalloc.get_traced_memory()[0]
        state = fitted_array_bytes(expl, exclude=[X, y])
        calls = [
            ("influence", lambda e=expl: e.influence(Xt, yt)),
            (f"params_change ({rows.size} rows)", lambda e=expl: e.params_change(rows)),
            (f"group_influence ({args.groups} groups of {args.n // args.groups})",
             lambda e=expl: e.group_influence(groups, Xt, yt)),
            ("metric_influence (neg_log_loss)",
             lambda e=expl: e.metric_influence(Xt, yt, scoring="neg_log_loss")),
        ]
        if method == "newton":
            calls.append(("metric_influence (roc_auc)",
                          lambda e=expl: e.metric_influence(Xt, yt, scoring="roc_auc")))
        for name, f in calls:
            out, t, peak = measure(f)
            results.append(dict(method=method, call=name, t=t, peak=peak, result=out.nbytes,
                                state=state, traced_state=traced_state, wm=wm, t_fit=t_fit))
            del out
        tracemalloc.stop()
        del expl
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--p", type=int, default=None)
    ap.add_argument("--n-test", type=int, default=None)
    ap.add_argument("--rows", type=int, default=None, help="rows for params_change")
    ap.add_argument("--groups", type=int, default=None, help="number of groups")
    ap.add_argument("--working-memory", type=float, default=None,
                    help="sklearn working_memory (MiB) for the run; default: the current config")
    args = ap.parse_args()
    quick = dict(n=2_000, p=20, n_test=200, rows=500, groups=100)
    full = dict(n=50_000, p=100, n_test=2_000, rows=5_000, groups=2_000)
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    ctx = {} if args.working_memory is None else {"working_memory": args.working_memory}
    with sklearn.config_context(**ctx), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        wm_mb = sklearn.get_config()["working_memory"]
        print(f"# bench_memory: n = {args.n}, p = {args.p}, m = {args.n_test} test points, "
              f"binary LogisticRegression, working_memory = {wm_mb:g} MiB\n")
        print(f"- {platform.machine()}, {os.cpu_count()} logical cores; numpy {np.__version__}, "
              f"scikit-learn {sklearn.__version__}; X is {args.n * args.p * 8 / 1e6:.0f} MB "
              "(the caller's, not counted)")
        try:
            print(f"- load average at start: {os.getloadavg()[0]:.2f}")
        except OSError:  # pragma: no cover
            pass
        t0 = time.perf_counter()
        results = run(args)
    print()
    print("| method | call | time (s) | result (MB) | peak of the call (MB) | working_memory (MB) "
          "| fitted arrays (MB) | retained by fit, traced (MB) | peak − result (MB) "
          "| peak ≤ result + wm + fitted state |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        budget = r["result"] + r["wm"] + r["state"]
        print(f"| {r['method']} | {r['call']} | {r['t']:.2f} | {r['result'] / 1e6:.1f} | "
              f"{r['peak'] / 1e6:.1f} | {r['wm'] / 1e6:.0f} | {r['state'] / 1e6:.1f} | "
              f"{r['traced_state'] / 1e6:.1f} | {(r['peak'] - r['result']) / 1e6:.1f} | "
              f"{'yes' if r['peak'] <= budget else '**no**'} |")
    fits = {r["method"]: r["t_fit"] for r in results}
    print("\nExplainer fit: " + ", ".join(f"{k} {v:.2f} s" for k, v in fits.items())
          + f". Total wall time {time.perf_counter() - t0:.0f} s.")


if __name__ == "__main__":
    main()
