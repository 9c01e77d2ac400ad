"""Benchmark (issue 16, targets 1 and 2): first-order influence against every peer and a NumPy floor.

Binary ``LogisticRegression`` (and ``Ridge``), dense synthetic ``X``, ``m`` test
points (default 200), with 1 and 2 BLAS threads (``threadpoolctl``; torch and
Numba get the same number). For each size, in one process:

(a) the **influence matrix** ``(m, n)``: explainer fit + ``influence`` (fit and
    influence also reported apart), for

    - skinfluence ``method="first_order"`` and ``method="newton"``;
    - **pyinfluence** ``InfluenceFunctions(damping=0)`` ``.fit`` + ``.explain``;
    - **pyDVL** ``DirectInfluence`` ``.fit`` + ``.influences`` (torch, float64);
    - the **floor**: the least NumPy/SciPy work for the same numbers — ``H`` by
      one GEMM (after one scaling pass over ``X``; the intercept's row and
      column by sums, no ``[X, 1]`` copy), LAPACK Cholesky, one ``cho_solve``
      for ``S = H⁻¹ G_testᵀ`` (``p̃ × m``), and one GEMM ``Sᵀ [c rᵢ xᵢ, c rᵢ]ᵀ``
      writing the result (the per-row scaling ``c rᵢ`` folded into the
      ``n × p̃`` operand, no pass over the ``m × n`` result);

(b) **self-influence of all n rows**: explainer fit + ``self_influence()``
    (first order); pyinfluence ``self_influence(attr)``; pyDVL: the diagonal of
    ``influences`` on batches of 1,000 training rows (it has no diagonal
    method); floor: ``H``, Cholesky, one triangular solve ``L⁻¹ X̃ᵀ`` and
    ``c rᵢ² ‖L⁻¹ x̃ᵢ‖²``.

Times are the best of 5 rounds after a warm-up call of each contender; in
every round the contenders of a table run in turn (interleaved), so a slow
drift of the machine's speed hits them alike (pyDVL runs in the first 3
rounds only). The estimator's training is outside them. The summary also
prints what the floor itself achieves against each peer (floor/pyinfluence,
floor/pyDVL on the no-intercept model): a ratio target beyond the floor's
needs less arithmetic than the floor does, not less overhead. Every peer's
numbers are asserted equal to ours (1e-6 relative to the largest value)
before anything is printed. The tracemalloc peak of
``influence`` (first order vs newton, after the same fit) is measured in a
separate call (tracemalloc sees NumPy's allocations; the result itself is
``8 m n`` bytes and is counted in the peak).

Scale and sign of the peers (checked in the run, to 1e-6, at every size):

- **pyinfluence** 0.5.0, ``InfluenceFunctions``:
  ``S_ij = (1/n) ∇ℓ_testᵢᵀ H_avg⁻¹ ∇ℓⱼ`` with ``H_avg = (1/n) Σ ∇²ℓ + λ I``
  (intercept unpenalised), ``λ = 1/(C n)`` for LogisticRegression and
  ``α/n`` for Ridge, positive = helpful (removal). For LogisticRegression it
  is our ``influence`` exactly (with ``damping=0``; its default ``1e-5``
  differs). Its Ridge loss is ``½(y − ŷ)²``, ours sklearn's ``(y − ŷ)²``: ours
  is 2× its scores. It computes ``H`` by one GEMM on ``[X, 1]`` (copied),
  ``cond(H)`` (an SVD), the explicit inverse, the ``n × p̃`` matrix of
  training gradients at fit; ``explain`` is ``G_test H⁻¹ Gᵀ / n`` (a GEMM and
  a division pass over the ``m × n`` result); self-influence is
  ``rowsum((G H⁻¹) ∘ G) / n``.
- **pyDVL** 0.10.0 ``DirectInfluence`` ("up" mode): regularises every
  parameter alike, so it is compared on the same data fitted **without
  intercept** (our numbers re-timed on that model): with
  ``regularization = 1/(C n)`` (logistic, ``binary_cross_entropy_with_logits``)
  or ``2α/n`` (Ridge, ``mse_loss``) its Hessian is ``H/(c n)`` and its
  influence is ``n`` times ours, same sign.

Run: ``python benchmarks/bench_first_order.py [--quick] [--threads 1 2]
[--models logistic ridge] [--n-test 200] [--no-pydvl]``; prints Markdown
tables (see benchmarks/README.md). Needs the benchmark environment (pyDVL
pins NumPy < 2; see the README for the install commands).
"""

import argparse
import os
import platform
import time
import tracemalloc
import warnings

import numpy as np
import scipy
import sklearn
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.special import expit
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_info, threadpool_limits

from skinfluence import InfluenceExplainer

#: Timed rounds; in each round every contender of a table runs once, in turn,
#: so that slow drifts of the machine's speed (measured here: ±30 % over
#: minutes) hit all of them alike; each keeps its best round.
REPEAT = 5
#: pyDVL takes part in the first rounds only (it is 7-15x slower, and its
#: ratio is far from noise).
PYDVL_ROUNDS = 3
RTOL = 1e-6
PYDVL_SELF_BATCH = 1000


# ------------------------------------------------------------------ data
def make_data(kind, n, p, n_test, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + n_test, p))
    w = rng.normal(size=p) / np.sqrt(p)
    if kind == "logistic":
        y = (rng.uniform(size=n + n_test) < expit(2 * X @ w + 0.3)).astype(int)
    else:
        y = X @ w + 0.5 + rng.normal(size=n + n_test)
    return X[:n], y[:n], X[n:], y[n:]


def make_estimator(kind, fit_intercept):
    if kind == "logistic":
        return LogisticRegression(
            C=1.0, solver="newton-cholesky", tol=1e-10, fit_intercept=fit_intercept
        )
    return Ridge(alpha=1.0, fit_intercept=fit_intercept)


# ------------------------------------------------------------------ floor
def glm_terms(est, X, y, Xt, yt):
    """Per-row quantities of sklearn's objective ``J = Σ c ℓ(yᵢ, zᵢ) + R``.

    Returns ``(h, g, r_test, pen)``: Hessian weights ``c ℓ''ᵢ``, training
    gradient weights ``gᵢ = c ℓ'ᵢ`` (so ``∇_θ c ℓᵢ = gᵢ x̃ᵢ``), test loss
    derivatives ``ℓ'`` and the penalty's Hessian on the coefficients
    (logistic: ``C``, ``ℓ'' = p(1−p)``, ``R = ½‖w‖²``; Ridge: ``c = 1``,
    ``ℓ = (y − z)²``, ``R = α‖w‖²``).
    """
    w, b = est.coef_.ravel(), float(np.ravel(est.intercept_)[0]) if est.fit_intercept else 0.0
    z, zt = X @ w + b, Xt @ w + b
    if isinstance(est, LogisticRegression):
        pr, pt = expit(z), expit(zt)
        return est.C * pr * (1 - pr), est.C * (pr - y), pt - yt, 1.0
    return np.full(len(X), 2.0), 2.0 * (z - y), 2.0 * (zt - yt), 2.0 * est.alpha


def floor_hessian(X, h, pen, fit_intercept):
    """``H = X̃ᵀ diag(h) X̃ + diag(pen, 0)``: one scaling pass, one GEMM, sums for the intercept."""
    p = X.shape[1]
    Xh = X * h[:, None]
    d = p + fit_intercept
    H = np.empty((d, d))
    H[:p, :p] = Xh.T @ X
    H[np.arange(p), np.arange(p)] += pen
    if fit_intercept:
        H[p, :p] = H[:p, p] = Xh.sum(axis=0)
        H[p, p] = h.sum()
    return cho_factor(H, lower=True, overwrite_a=True, check_finite=False)


def floor_influence(est, X, y, Xt, yt):
    """``(m, n)`` influence matrix: ``H``, Cholesky, one solve, one GEMM into the result."""
    fi = est.fit_intercept
    h, g, rt, pen = glm_terms(est, X, y, Xt, yt)
    L = floor_hessian(X, h, pen, fi)
    Gt = Xt * rt[:, None]
    if fi:
        Gt = np.hstack([Gt, rt[:, None]])
    S = cho_solve(L, Gt.T, check_finite=False)  # H⁻¹ ∇ℓ_testᵀ, (p̃, m)
    n, p = X.shape
    Gs = np.empty((n, p + fi))  # [gᵢ xᵢ, gᵢ]: the per-row scaling folded into the operand
    np.multiply(X, g[:, None], out=Gs[:, :p])
    if fi:
        Gs[:, p] = g
    return S.T @ Gs.T


def floor_self_influence(est, X, y):
    """``c ℓ'ᵢ² x̃ᵢᵀ H⁻¹ x̃ᵢ``: ``H``, Cholesky, one triangular solve, one reduction."""
    fi = est.fit_intercept
    h, g, _, pen = glm_terms(est, X, y, X[:1], y[:1])
    L = floor_hessian(X, h, pen, fi)
    Xa = np.hstack([X, np.ones((len(X), 1))]) if fi else X
    Q = solve_triangular(L[0], Xa.T, lower=True, check_finite=False)
    q = np.einsum("ij,ij->j", Q, Q)
    c = est.C if isinstance(est, LogisticRegression) else 1.0
    return g * g / c * q


# ------------------------------------------------------------------ peers
def pyinfluence_influence(est, X, y, Xt, yt):
    from pyinfluence import InfluenceFunctions

    t0 = time.perf_counter()
    attr = InfluenceFunctions(mode="loss", damping=0.0).fit(est, X, y)
    t1 = time.perf_counter()
    S = attr.explain(Xt, yt)
    return S, t1 - t0, time.perf_counter() - t1


def pyinfluence_self(est, X, y):
    from pyinfluence import InfluenceFunctions, self_influence

    return self_influence(InfluenceFunctions(mode="loss", damping=0.0).fit(est, X, y))


def pyinfluence_scale(est):
    """Ours = this × pyinfluence's score (its Ridge loss is ½(y − ŷ)²)."""
    return 1.0 if isinstance(est, LogisticRegression) else 2.0


class PyDVL:
    """pyDVL's DirectInfluence on a no-intercept model; numbers divided by ``n`` (ours)."""

    def __init__(self, est, X, y):
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        self.torch = torch
        torch.set_default_dtype(torch.float64)
        n, p = X.shape
        self.n = n
        self.model = torch.nn.Linear(p, 1, bias=False)
        with torch.no_grad():
            self.model.weight.copy_(torch.from_numpy(np.atleast_2d(est.coef_)))
        if isinstance(est, LogisticRegression):
            self.loss = torch.nn.functional.binary_cross_entropy_with_logits
            self.reg = 1.0 / (est.C * n)
        else:
            self.loss = torch.nn.functional.mse_loss
            self.reg = 2.0 * est.alpha / n
        self.x = torch.from_numpy(X)
        self.y = torch.from_numpy(np.asarray(y, dtype=np.float64))[:, None]
        self.data = DataLoader(TensorDataset(self.x, self.y), batch_size=4096)

    def fit(self):
        from pydvl.influence.torch import DirectInfluence

        return DirectInfluence(self.model, self.loss, regularization=self.reg).fit(self.data)

    def influence(self, Xt, yt):
        torch = self.torch
        t0 = time.perf_counter()
        infl = self.fit()
        t1 = time.perf_counter()
        xt = torch.from_numpy(Xt)
        ytt = torch.from_numpy(np.asarray(yt, dtype=np.float64))[:, None]
        S = infl.influences(xt, ytt, self.x, self.y).detach().numpy() / self.n
        return S, t1 - t0, time.perf_counter() - t1

    def self_influence(self):
        infl = self.fit()
        out = np.empty(self.n)
        for start in range(0, self.n, PYDVL_SELF_BATCH):
            sl = slice(start, min(start + PYDVL_SELF_BATCH, self.n))
            block = infl.influences(self.x[sl], self.y[sl]).detach().numpy()
            out[sl] = np.diagonal(block) / self.n
        return out


# ------------------------------------------------------------------ ours
def ours_influence(est, X, y, Xt, yt, method):
    t0 = time.perf_counter()
    expl = InfluenceExplainer(method=method).fit(est, X, y)
    t1 = time.perf_counter()
    S = expl.influence(Xt, yt)
    return S, t1 - t0, time.perf_counter() - t1


def ours_self(est, X, y):
    return InfluenceExplainer().fit(est, X, y).self_influence()


# ------------------------------------------------------------------ timing
def set_repeat(k):
    """Rounds per contender for the whole run (``--repeat``)."""
    global REPEAT
    REPEAT = k


def interleaved_best(calls, repeat=None, rounds=None):
    """Best wall time of each call, timed in interleaved rounds after one warm-up each.

    ``calls`` maps a name to ``f``; ``f`` returns ``(result, *parts)``
    (parts: seconds of sub-steps) or just a result. ``rounds`` optionally
    limits a call to its first rounds. Returns ``{name: (result, best total,
    parts of the best call)}``, the result from the call's last run.
    """
    repeat = REPEAT if repeat is None else repeat
    rounds = rounds or {}
    out = {}
    for name, f in calls.items():
        f()
        out[name] = (None, np.inf, ())
    for k in range(repeat):
        for name, f in calls.items():
            if k >= rounds.get(name, repeat):
                continue
            t0 = time.perf_counter()
            res = f()
            t = time.perf_counter() - t0
            result, parts = (res[0], res[1:]) if isinstance(res, tuple) else (res, ())
            best, best_parts = out[name][1:]
            if t < best:
                best, best_parts = t, parts
            out[name] = (result, best, best_parts)
    return out


def traced_peak(f):
    """Peak of traced allocations (bytes) during ``f()``, above what was held before."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    f()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def check(name, ours, theirs, scale=1.0):
    err = float(np.abs(ours - scale * theirs).max() / np.abs(ours).max())
    if not err <= RTOL:
        raise AssertionError(f"{name} disagrees with skinfluence: max rel. diff {err:.1e} > {RTOL:g}")
    return err


def set_threads(k):
    try:
        import numba

        numba.set_num_threads(min(k, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.set_num_threads(k)
    except ImportError:  # pragma: no cover
        pass


def run_size(kind, n, p, m, threads, use_pydvl):
    X, y, Xt, yt = make_data(kind, n, p, m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make_estimator(kind, True).fit(X, y)
        est0 = make_estimator(kind, False).fit(X, y) if use_pydvl else None
    r = dict(n=n, p=p, threads=threads)
    errs = {}
    with threadpool_limits(limits=threads):
        set_threads(threads)
        # (a) the influence matrix; (b) self-influence of all n: every contender
        # of a table timed in the same interleaved rounds
        calls = {
            "fo": lambda: ours_influence(est, X, y, Xt, yt, "first_order"),
            "nt": lambda: ours_influence(est, X, y, Xt, yt, "newton"),
            "floor": lambda: floor_influence(est, X, y, Xt, yt),
            "pyinf": lambda: pyinfluence_influence(est, X, y, Xt, yt),
        }
        self_calls = {
            "self_fo": lambda: ours_self(est, X, y),
            "self_floor": lambda: floor_self_influence(est, X, y),
            "self_pyinf": lambda: pyinfluence_self(est, X, y),
        }
        if use_pydvl:
            dvl = PyDVL(est0, X, y)
            calls["fo0"] = lambda: ours_influence(est0, X, y, Xt, yt, "first_order")
            calls["floor0"] = lambda: floor_influence(est0, X, y, Xt, yt)
            calls["dvl"] = lambda: dvl.influence(Xt, yt)
            self_calls["self_fo0"] = lambda: ours_self(est0, X, y)
            self_calls["self_dvl"] = lambda: dvl.self_influence()
        rounds = {"dvl": PYDVL_ROUNDS, "self_dvl": PYDVL_ROUNDS}
        timed = interleaved_best(calls, rounds=rounds)
        timed.update(interleaved_best(self_calls, rounds=rounds))
        for key, (_, best, parts) in timed.items():
            r[key] = best
            if parts:
                r[key + "_fit"], r[key + "_infl"] = parts
        S = timed["fo"][0]
        errs["floor"] = check("floor influence", S, timed["floor"][0])
        errs["pyinfluence"] = check(
            "pyinfluence influence", S, timed["pyinf"][0], pyinfluence_scale(est)
        )
        s = timed["self_fo"][0]
        errs["floor self"] = check("floor self-influence", s, timed["self_floor"][0])
        errs["pyinfluence self"] = check(
            "pyinfluence self-influence", s, timed["self_pyinf"][0], pyinfluence_scale(est)
        )
        if use_pydvl:
            errs["pyDVL"] = check("pyDVL influence", timed["fo0"][0], timed["dvl"][0])
            errs["floor, no intercept"] = check(
                "floor influence, no intercept", timed["fo0"][0], timed["floor0"][0]
            )
            errs["pyDVL self"] = check(
                "pyDVL self-influence", timed["self_fo0"][0], timed["self_dvl"][0]
            )
        del timed, calls, self_calls, S
        # target 2: memory of influence, first order vs newton, after the same fit
        for method, key in [("first_order", "fo_mem"), ("newton", "nt_mem")]:
            expl = InfluenceExplainer(method=method).fit(est, X, y)
            expl.influence(Xt[:2], yt[:2])  # lazy per-row state (newton weights) outside the peak
            r[key] = traced_peak(lambda e=expl: e.influence(Xt, yt))
            r[key + "_fit"] = traced_peak(
                lambda method=method: InfluenceExplainer(method=method).fit(est, X, y).influence(Xt, yt)
            )
    r["err"] = max(errs.values())
    r["result_mb"] = 8 * m * n / 1e6
    return r


# ------------------------------------------------------------------ report
def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or "unknown CPU"


def machine_report():
    """Markdown lines: cores, CPU, versions, every BLAS/OpenMP pool threadpoolctl sees, load."""
    lines = [
        f"- machine: {platform.machine()}, {os.cpu_count()} logical cores, "
        f"{cpu_name()}, Python {platform.python_version()}",
        f"- numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}",
    ]
    for mod in ("torch", "pydvl", "pyinfluence", "numba"):
        try:
            lines.append(f"- {mod} {__import__(mod).__version__}")
        except Exception:  # noqa: BLE001 - a missing optional peer is reported, not fatal
            lines.append(f"- {mod}: not installed")
    for lib in threadpool_info():
        lines.append(
            f"- threadpool: {lib.get('user_api')} {lib.get('internal_api')} "
            f"{lib.get('version')} ({lib.get('architecture', '')}, "
            f"{lib.get('threading_layer', '')}, max {lib.get('num_threads')} threads) "
            f"{os.path.basename(lib.get('filepath', ''))}"
        )
    try:
        lines.append(f"- load average at start: {os.getloadavg()[0]:.2f}")
    except OSError:  # pragma: no cover
        pass
    return "\n".join(lines)


def fmt(t):
    return f"{t:.3f}" if t < 10 else f"{t:.1f}"


def print_summary(kind, rows, use_pydvl):
    """One row per size with every ratio the issue's targets read (README's results table)."""
    print(f"\n### {kind}: summary (ratios < 1: ours faster or smaller)\n")
    print("| threads | n | p | ours (s) | floor (s) | ours/floor | pyinfluence (s) | ours/pyinfluence "
          "| ours, no intercept (s) | pyDVL (s) | ours/pyDVL | self: ours/floor "
          "| self: ours/pyinfluence | self: ours/pyDVL | newton/fo time | newton/fo peak "
          "| floor/pyinfluence | floor/pyDVL |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        dvl = (f"{fmt(r['fo0'])} | {fmt(r['dvl'])} | {r['fo0'] / r['dvl']:.3f}"
               if use_pydvl else "— | — | —")
        floor_dvl = f"{r['floor0'] / r['dvl']:.3f}" if use_pydvl else "—"
        self_dvl = f"{r['self_fo0'] / r['self_dvl']:.3f}" if use_pydvl else "—"
        print(f"| {r['threads']} | {r['n']} | {r['p']} | {fmt(r['fo'])} | {fmt(r['floor'])} | "
              f"{r['fo'] / r['floor']:.2f} | {fmt(r['pyinf'])} | {r['fo'] / r['pyinf']:.2f} | "
              f"{dvl} | {r['self_fo'] / r['self_floor']:.2f} | "
              f"{r['self_fo'] / r['self_pyinf']:.2f} | {self_dvl} | {r['nt'] / r['fo']:.2f} | "
              f"{r['nt_mem'] / r['fo_mem']:.2f} | {r['floor'] / r['pyinf']:.2f} | {floor_dvl} |")


def print_tables(kind, rows, m, use_pydvl):
    print_summary(kind, rows, use_pydvl)
    print(f"\n### {kind}: influence matrix ({m} test points × n), fit + influence, best of {REPEAT}\n")
    head = "| threads | n | p | ours (s) | floor (s) | ours/floor | pyinfluence (s) | ours/pyinfluence |"
    sep = "|---:|---:|---:|---:|---:|---:|---:|---:|"
    if use_pydvl:
        head += " ours, no intercept (s) | pyDVL (s) | ours/pyDVL |"
        sep += "---:|---:|---:|"
    print(head + " max rel. diff |")
    print(sep + "---:|")
    for r in rows:
        line = (f"| {r['threads']} | {r['n']} | {r['p']} | {fmt(r['fo'])} | {fmt(r['floor'])} | "
                f"{r['fo'] / r['floor']:.2f} | {fmt(r['pyinf'])} | {r['fo'] / r['pyinf']:.2f} |")
        if use_pydvl:
            line += f" {fmt(r['fo0'])} | {fmt(r['dvl'])} | {r['fo0'] / r['dvl']:.3f} |"
        print(line + f" {r['err']:.0e} |")

    print(f"\n### {kind}: the same, fit and influence apart (s)\n")
    head = "| threads | n | p | ours fit | ours influence | pyinfluence fit | pyinfluence explain |"
    sep = "|---:|---:|---:|---:|---:|---:|---:|"
    if use_pydvl:
        head += " pyDVL fit | pyDVL influences |"
        sep += "---:|---:|"
    print(head)
    print(sep)
    for r in rows:
        line = (f"| {r['threads']} | {r['n']} | {r['p']} | {fmt(r['fo_fit'])} | {fmt(r['fo_infl'])} | "
                f"{fmt(r['pyinf_fit'])} | {fmt(r['pyinf_infl'])} |")
        if use_pydvl:
            line += f" {fmt(r['dvl_fit'])} | {fmt(r['dvl_infl'])} |"
        print(line)

    print(f"\n### {kind}: self-influence of all n rows (fit + self_influence), best of {REPEAT}\n")
    head = "| threads | n | p | ours (s) | floor (s) | ours/floor | pyinfluence (s) | ours/pyinfluence |"
    sep = "|---:|---:|---:|---:|---:|---:|---:|---:|"
    if use_pydvl:
        head += f" ours, no intercept (s) | pyDVL, diagonal of {PYDVL_SELF_BATCH}-row blocks (s) | ours/pyDVL |"
        sep += "---:|---:|---:|"
    print(head)
    print(sep)
    for r in rows:
        line = (f"| {r['threads']} | {r['n']} | {r['p']} | {fmt(r['self_fo'])} | {fmt(r['self_floor'])} | "
                f"{r['self_fo'] / r['self_floor']:.2f} | {fmt(r['self_pyinf'])} | "
                f"{r['self_fo'] / r['self_pyinf']:.2f} |")
        if use_pydvl:
            line += f" {fmt(r['self_fo0'])} | {fmt(r['self_dvl'])} | {r['self_fo0'] / r['self_dvl']:.3f} |"
        print(line)

    print(f"\n### {kind}: newton vs first_order influence (target 2: ≤ 1.5× time, ≤ 1.3× peak memory)\n")
    print("| threads | n | p | first_order fit + influence (s) | newton (s) | time newton/fo "
          "| influence only: fo (s) | newton (s) | newton/fo | result (MB) "
          "| peak of influence: fo (MB) | newton (MB) | newton/fo | peak of fit + influence: fo (MB) "
          "| newton (MB) | newton/fo |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['threads']} | {r['n']} | {r['p']} | {fmt(r['fo'])} | {fmt(r['nt'])} | "
              f"{r['nt'] / r['fo']:.2f} | {fmt(r['fo_infl'])} | {fmt(r['nt_infl'])} | "
              f"{r['nt_infl'] / r['fo_infl']:.2f} | {r['result_mb']:.1f} | "
              f"{r['fo_mem'] / 1e6:.1f} | {r['nt_mem'] / 1e6:.1f} | {r['nt_mem'] / r['fo_mem']:.2f} | "
              f"{r['fo_mem_fit'] / 1e6:.1f} | {r['nt_mem_fit'] / 1e6:.1f} | "
              f"{r['nt_mem_fit'] / r['fo_mem_fit']:.2f} |")


def main():
    warnings.filterwarnings("ignore", category=FutureWarning)  # pyDVL's deprecation notices
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--n-test", type=int, default=200, help="test points (m)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--models", nargs="+", default=["logistic", "ridge"],
                    choices=["logistic", "ridge"])
    ap.add_argument("--ns", type=int, nargs="+", default=None, help="training rows (n)")
    ap.add_argument("--ps", type=int, nargs="+", default=None, help="features (p)")
    ap.add_argument("--no-pydvl", action="store_true", help="leave pyDVL (torch) out")
    ap.add_argument("--repeat", type=int, default=REPEAT,
                    help="interleaved rounds per contender (pyDVL: at most 3)")
    args = ap.parse_args()
    set_repeat(args.repeat)
    ns = args.ns or ([500, 2000] if args.quick else [5_000, 20_000, 50_000])
    ps = args.ps or ([10, 30] if args.quick else [50, 100, 200])
    m = 20 if args.quick and args.n_test == 200 else args.n_test
    use_pydvl = not args.no_pydvl
    print(f"# bench_first_order: m = {m} test points, best of {REPEAT} interleaved rounds "
          "after a warm-up\n")
    print(machine_report())
    t_start = time.perf_counter()
    for kind in args.models:
        rows = []
        for threads in args.threads:
            for n in ns:
                for p in ps:
                    rows.append(run_size(kind, n, p, m, threads, use_pydvl))
                    r = rows[-1]
                    print(f"<!-- {kind} threads={threads} n={n} p={p}: ours {r['fo']:.3f} s, "
                          f"floor {r['floor']:.3f} s, pyinfluence {r['pyinf']:.3f} s, "
                          f"elapsed {time.perf_counter() - t_start:.0f} s -->", flush=True)
        print_tables(kind, rows, m, use_pydvl)
    print(f"\nTotal wall time {time.perf_counter() - t_start:.0f} s.")


if __name__ == "__main__":
    main()
