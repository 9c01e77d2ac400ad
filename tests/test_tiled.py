"""The tiled dual solver (capacitance in lower-triangle tiles) and its dask backend.

Checked against numpy/scipy dense linear algebra, against the one-array dual
solver, and against real scikit-learn refits of exactly the leave-one-out edit.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import solve_triangular
from scipy.special import log_expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge

from skinfluence import InfluenceExplainer
from skinfluence._solvers._cholesky import SingularHessianError
from skinfluence._solvers._tiled import TiledLower, tile_bounds


def bag_of_words(n, p, nnz, seed=0):
    """Zipf term counts, log(1 + count), L2-normalised rows; labels from a sparse rule."""
    rng = np.random.default_rng(seed)
    freq = 1.0 / np.arange(1, p + 1) ** 1.05
    freq /= freq.sum()
    cols = rng.choice(p, size=n * nnz, p=freq)
    rows = np.repeat(np.arange(n), nnz)
    X = sp.csr_matrix((np.ones(n * nnz), (rows, cols)), shape=(n, p))
    X.sum_duplicates()
    X.data = np.log1p(X.data)
    X = sp.diags(1.0 / np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())) @ X
    w = rng.normal(size=p) * (rng.random(p) < 0.1) * 10
    z = X @ w
    y = (z + 0.3 * z.std() * rng.normal(size=n) > np.median(z)).astype(int)
    return X.tocsr(), y


@pytest.fixture(scope="module")
def bow():
    X, y = bag_of_words(330, 1500, 40)
    return X[30:], y[30:], X[:30], y[:30]


def _logistic(fit_intercept, C=10.0):
    return LogisticRegression(C=C, tol=1e-12, max_iter=2000, fit_intercept=fit_intercept)


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_tile_bounds_cover_n_with_near_equal_tiles():
    assert tile_bounds(10, 10) == [0, 10]
    assert tile_bounds(10, 3) == [0, 3, 6, 9, 10]
    b = tile_bounds(600, 97)  # 7 tiles of <= 86 rows
    assert b[0] == 0 and b[-1] == 600 and max(np.diff(b)) <= 97 and len(b) == 8


@pytest.mark.parametrize("tile", [7, 10, 37])
def test_tiled_lower_is_cholesky_and_inverse(tile):
    """Factor, triangular solves in both states and diag(G⁻¹) equal scipy's dense ones."""
    rng = np.random.default_rng(0)
    n = 37
    B = rng.normal(size=(n, n))
    G = B @ B.T + n * np.eye(n)
    T = TiledLower(n, tile)
    for i in range(T.n_tiles):
        for j in range(i + 1):
            T.tiles[i, j] = np.asfortranarray(G[T.span(i), T.span(j)])
    T.cholesky()
    L = np.linalg.cholesky(G)
    got = np.zeros((n, n))
    for (i, j), A in T.tiles.items():
        got[T.span(i), T.span(j)] = A
    assert np.abs(np.tril(got) - L).max() < 1e-12 * np.abs(L).max()
    R = rng.normal(size=(n, 3))
    lower, upper = solve_triangular(L, R, lower=True), solve_triangular(L.T, R, lower=False)
    for state in ("factor", "inverse"):
        if state == "inverse":
            diag = T.inverse_diagonal()
            assert _rel(diag, np.diag(np.linalg.inv(G))) < 1e-12
        assert T.state == state
        assert _rel(T.solve_lower(R), lower) < 1e-12
        assert _rel(T.solve_upper(R), upper) < 1e-12


def test_tiled_lower_refuses_an_indefinite_matrix():
    T = TiledLower(4, 2)
    G = np.diag([1.0, 1.0, -1.0, 1.0])
    for i in range(2):
        for j in range(i + 1):
            T.tiles[i, j] = np.asfortranarray(G[T.span(i), T.span(j)])
    with pytest.raises(SingularHessianError, match="not positive definite.*row 2"):
        T.cholesky()


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_tiled_dual_equals_dense_dual(bow, fit_intercept):
    """Tiles of 97 rows (not dividing n = 300): every number as the one-array dual."""
    X, y, Xt, yt = bow
    clf = _logistic(fit_intercept).fit(X, y)
    dense = InfluenceExplainer(solver="dual", method="newton").fit(clf, X, y)
    tiled = InfluenceExplainer(solver="dual", method="newton", solver_params={"tile": 97})
    tiled.fit(clf, X, y)
    assert tiled._inverse.blocks[0].G.n_tiles == 4
    assert _rel(tiled.leverage(), dense.leverage()) < 1e-10
    for method in ("newton", "first_order"):  # the same leverages, other weights
        dense.set_params(method=method)
        tiled.set_params(method=method)
        assert _rel(tiled.self_influence(), dense.self_influence()) < 1e-10
        assert _rel(tiled.influence(Xt, yt), dense.influence(Xt, yt)) < 1e-10
        assert _rel(tiled.params_change([0, 5]), dense.params_change([0, 5])) < 1e-10


def test_tiled_dual_solves_before_and_after_the_inversion(bow):
    """Solves with L (before diag(G⁻¹) is asked for) and with L⁻¹ (after) agree."""
    X, y, Xt, yt = bow
    clf = _logistic(True).fit(X, y)
    from skinfluence._solvers._tiled import TiledDualBlock

    expl = InfluenceExplainer(solver="dual", solver_params={"tile": 64}).fit(clf, X, y)
    expl.self_influence()  # the leverages: L inverted in place
    block = expl._inverse.blocks[0]
    assert block.G.state == "inverse"
    fresh = TiledDualBlock(block.design, block.s**2, _lam(block), tile=64)
    assert fresh.G.state == "factor"
    B = np.random.default_rng(1).normal(size=(block.design.n_columns, 3))
    assert _rel(fresh.solve(B), block.solve(B)) < 1e-10


def _lam(block):
    lam = 1.0 / block.a_inv
    if block.bordered:
        lam[-1] = 0.0
    return lam


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_tiled_dual_ridge_newton_is_exact_leave_one_out(fit_intercept):
    """Ridge (p > n): newton self-influence and Δθ equal sklearn refits without the row."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 300))
    y = X[:, :5] @ rng.normal(size=5) + rng.normal(size=120)
    reg = Ridge(alpha=3.0, fit_intercept=fit_intercept, solver="cholesky").fit(X, y)
    expl = InfluenceExplainer(solver="dual", method="newton", solver_params={"tile": 50})
    expl.fit(reg, X, y)
    si = expl.self_influence()
    rows = [0, 17, 119]
    dtheta = expl.params_change(rows)
    for k, i in enumerate(rows):
        keep = np.arange(len(y)) != i
        refit = clone(reg).fit(X[keep], y[keep])
        loo = (refit.predict(X[i : i + 1])[0] - y[i]) ** 2 - (reg.predict(X[i : i + 1])[0] - y[i]) ** 2
        assert si[i] == pytest.approx(loo, rel=1e-8)
        truth = np.concatenate([refit.coef_ - reg.coef_, np.atleast_1d(refit.intercept_ - reg.intercept_)])
        assert _rel(dtheta[k][: truth.size], truth[: dtheta[k].size]) < 1e-8


def _logistic_loo_loss_change(clf, X, y, i):
    keep = np.arange(len(y)) != i
    refit = clone(clf).fit(X[keep], y[keep])
    z0, z1 = clf.decision_function(X[i])[0], refit.decision_function(X[i])[0]

    def loss(z):
        return -log_expit(z) + (1 - y[i]) * z

    return loss(z1) - loss(z0)


def test_tiled_dual_logistic_matches_refits(bow):
    """Newton self-influence of a few rows against real leave-one-out refits."""
    X, y, _, _ = bow
    clf = _logistic(True).fit(X, y)
    expl = InfluenceExplainer(solver="dual", method="newton", solver_params={"tile": 97})
    si = expl.fit(clf, X, y).self_influence()
    rows = np.argsort(si)[[-1, -2, len(si) // 2]]
    truth = np.array([_logistic_loo_loss_change(clf, X, y, i) for i in rows])
    assert np.all(truth > 0)
    assert np.max(np.abs(si[rows] - truth) / truth) < 0.02


def test_dask_backend_on_a_local_cluster():
    """600 docs × 2,000 terms on a distributed LocalCluster: the dense dual's numbers, refits."""
    distributed = pytest.importorskip("distributed")
    X, y = bag_of_words(620, 2000, 40, seed=1)
    Xt, yt, X, y = X[:20], y[:20], X[20:], y[20:]
    clf = _logistic(True).fit(X, y)
    dense = InfluenceExplainer(solver="dual", method="newton").fit(clf, X, y)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        expl = InfluenceExplainer(
            solver="dual", method="newton", solver_params={"backend": "dask", "tile": 256}
        ).fit(clf, X, y)
        # the work ran as tasks on the cluster
        assert any("cholesky" in key for key in map(str, client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.task_prefixes))))
    block = expl._inverse.blocks[0]
    assert block.G.n_tiles == 3 and block.G.state == "inverse"  # 256 does not divide 600
    si = expl.self_influence()
    assert _rel(si, dense.self_influence()) < 1e-10
    assert _rel(expl.influence(Xt, yt), dense.influence(Xt, yt)) < 1e-10
    rows = np.argsort(si)[[-1, len(si) // 2]]
    truth = np.array([_logistic_loo_loss_change(clf, X, y, i) for i in rows])
    assert np.max(np.abs(si[rows] - truth) / truth) < 0.02


def test_solver_params_of_the_dual_are_checked(bow):
    X, y, _, _ = bow
    clf = _logistic(True).fit(X, y)
    with pytest.raises(ValueError, match="tile"):
        InfluenceExplainer(solver="dual", solver_params={"tile": 0}).fit(clf, X, y)
    with pytest.raises(ValueError, match="backend"):
        InfluenceExplainer(solver="dual", solver_params={"backend": "mpi"}).fit(clf, X, y)


def test_rows_without_curvature_take_the_direct_formula(bow):
    """Rows of weight 0 (w = 0) or 1e-7 (leverage ≪ 1e-3): qᵢ by the direct formula, still exact."""
    X, y, Xt, yt = bow
    sw = np.ones(len(y))
    sw[[3, 50, 77]] = 0.0
    sw[[10, 11]] = 1e-7
    clf = _logistic(True).fit(X, y, sample_weight=sw)
    dense = InfluenceExplainer(solver="dual").fit(clf, X, y, sample_weight=sw)
    tiled = InfluenceExplainer(solver="dual", solver_params={"tile": 97})
    tiled.fit(clf, X, y, sample_weight=sw)
    tiled.self_influence()
    dense.self_influence()
    assert tiled._inverse.blocks[0].n_direct_rows_ == 5
    q_dense, q_tiled = dense._M[:, 0, 0], tiled._M[:, 0, 0]
    assert np.all(q_tiled > 0)
    assert _rel(q_tiled, q_dense) < 1e-10
    assert np.max(np.abs(q_tiled - q_dense)[[3, 50, 77, 10, 11]] / q_dense[[3, 50, 77, 10, 11]]) < 1e-10
    assert _rel(tiled.influence(Xt, yt), dense.influence(Xt, yt)) < 1e-10
