"""The SciPy-BLAS wrappers of the hot paths, and the products built on them."""

import numpy as np
import pytest
import scipy.sparse as sp

from skinfluence._blas import gemm, gemv, symmetrize_lower, syrk_add
from skinfluence._design import DesignMatrix
from skinfluence._solvers._cholesky import CholeskySolver
from skinfluence._solvers._structured import BlockDiagonalInverse

rng = np.random.default_rng(0)


def _layouts(shape):
    """The same values C-ordered, F-ordered, as a transposed view, and strided."""
    A = rng.standard_normal(shape)
    wide = rng.standard_normal((shape[0], 2 * shape[1]))
    wide[:, ::2] = A
    return [A, np.asfortranarray(A), np.ascontiguousarray(A.T).T, wide[:, ::2]]


@pytest.mark.parametrize("out_order", ["C", "F", None])
def test_gemm_matches_numpy_and_writes_in_place(out_order):
    for A in _layouts((7, 5)):
        for B in _layouts((5, 9)):
            out = None if out_order is None else np.empty((7, 9), order=out_order)
            result = gemm(A, B, out=out)
            np.testing.assert_allclose(result, A @ B, rtol=1e-13, atol=1e-13)
            if out is not None:
                assert result is out


def test_syrk_add_accumulates_the_lower_triangle():
    X = rng.standard_normal((40, 6))
    G = np.zeros((6, 6), order="F")
    syrk_add(X[:15], G)  # C-ordered
    syrk_add(np.asfortranarray(X[15:30]), G)  # F-ordered
    syrk_add(X[30:].T.copy().T, G)  # a transposed view
    np.testing.assert_allclose(symmetrize_lower(G), X.T @ X, rtol=1e-13)


def test_gemv_both_orientations():
    X = rng.standard_normal((30, 4))
    np.testing.assert_allclose(gemv(X, np.arange(4.0)), X @ np.arange(4.0), rtol=1e-13)
    np.testing.assert_allclose(gemv(X.T, np.arange(30.0)), X.T @ np.arange(30.0), rtol=1e-13)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_gram_and_leverages_against_explicit_formulas(fit_intercept, sparse, monkeypatch):
    # chunks of 7 and 5 rows so that several chunks (and a ragged last one) run
    monkeypatch.setattr("skinfluence._design.GRAM_CHUNK_ROWS", 7)
    monkeypatch.setattr("skinfluence._solvers._structured.LEVERAGE_CHUNK_ROWS", 5)
    X = rng.standard_normal((33, 4))
    X[X < -0.5] = 0.0
    design = DesignMatrix(sp.csr_matrix(X) if sparse else X, fit_intercept)
    Xt = np.hstack([X, np.ones((33, 1))]) if fit_intercept else X
    d1, d2 = rng.random(33), rng.random(33)
    G1, G2 = design.gram(d1), design.gram(d2)
    np.testing.assert_allclose(G1, Xt.T @ (d1[:, None] * Xt), rtol=1e-12)
    np.testing.assert_allclose(G1, G1.T)
    constant = np.full(33, 2.5)  # least squares: the unscaled path
    np.testing.assert_allclose(design.gram(constant), 2.5 * Xt.T @ Xt, rtol=1e-12)
    np.testing.assert_allclose(
        DesignMatrix(np.asfortranarray(X), fit_intercept).gram(constant), 2.5 * Xt.T @ Xt, rtol=1e-12
    )
    H1, H2 = G1 + 0.3 * np.eye(Xt.shape[1]), G2 + 0.1 * np.eye(Xt.shape[1])
    inverse = BlockDiagonalInverse([CholeskySolver(H1), CholeskySolver(H2)], np.array([0, 1, 0]))
    M = inverse.leverage_blocks(design)
    for k, H in [(0, H1), (1, H2), (2, H1)]:
        expected = np.einsum("ij,ij->i", Xt @ np.linalg.inv(H), Xt)
        np.testing.assert_allclose(M[:, k, k], expected, rtol=1e-11)
    assert np.all(M[:, 0, 1] == 0)
