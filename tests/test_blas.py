"""The SciPy-BLAS wrappers of the hot paths, and the products built on them."""

import numpy as np
import pytest
import scipy.sparse as sp

from skinfluence._blas import (
    dgemm_nogil,
    dsyrk_lower_nogil,
    dtrmm_lower_nogil,
    dtrsm_lower_nogil,
    gemm,
    gemv,
    symmetrize_lower,
    syrk_add,
)
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
    monkeypatch.setattr("skinfluence._design.GRAM_CHUNK_BYTES", 7 * 8 * 5)
    monkeypatch.setattr("skinfluence._solvers._structured.LEVERAGE_CHUNK_BYTES", 5 * 8 * 5)
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


def _fortran_block(shape):
    """An F-ordered column slice of a bigger F-ordered array (a tile's columns)."""
    big = np.asfortranarray(rng.standard_normal((shape[0], shape[1] + 5)))
    return big[:, 2 : 2 + shape[1]]


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_dgemm_nogil_matches_numpy_in_place(trans_a, trans_b):
    a = _fortran_block((5, 7) if trans_a else (7, 5))
    b = _fortran_block((9, 5) if trans_b else (5, 9))
    c = _fortran_block((7, 9))
    c0 = c.copy()
    opa, opb = (a.T if trans_a else a), (b.T if trans_b else b)
    result = dgemm_nogil(-0.5, a, b, 2.0, c, trans_a=trans_a, trans_b=trans_b)
    assert result is c
    np.testing.assert_allclose(c, -0.5 * opa @ opb + 2.0 * c0, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("trans", [False, True])
def test_dsyrk_lower_nogil_updates_the_lower_triangle_only(trans):
    a = _fortran_block((4, 6) if trans else (6, 4))
    c = np.asfortranarray(rng.standard_normal((6, 6)))
    c0 = c.copy()
    dsyrk_lower_nogil(-1.0, a, 1.0, c, trans=trans)
    expected = c0 - (a.T @ a if trans else a @ a.T)
    lower = np.tril_indices(6)
    np.testing.assert_allclose(c[lower], expected[lower], rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(np.triu(c, 1), np.triu(c0, 1))


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("trans", [False, True])
def test_triangular_nogil_routines_match_numpy(right, trans):
    L = np.asfortranarray(np.tril(rng.standard_normal((5, 5))) + 5 * np.eye(5))
    L_upper_garbage = L + np.triu(rng.standard_normal((5, 5)), 1)  # only the lower part is read
    L_upper_garbage = np.asfortranarray(L_upper_garbage)
    opL = L.T if trans else L
    b = _fortran_block((8, 5) if right else (5, 8))
    b0 = b.copy()
    dtrmm_lower_nogil(2.0, L_upper_garbage, b, right=right, trans=trans)
    np.testing.assert_allclose(b, 2.0 * (b0 @ opL if right else opL @ b0), rtol=1e-13)
    dtrsm_lower_nogil(0.5, L_upper_garbage, b, right=right, trans=trans)
    np.testing.assert_allclose(b, b0, rtol=1e-12, atol=1e-13)


def test_nogil_routines_refuse_what_they_cannot_read_in_place():
    C = rng.standard_normal((4, 4))  # C-ordered: would be read transposed
    F = np.asfortranarray(C)
    with pytest.raises(ValueError, match="a must be an F-contiguous"):
        dgemm_nogil(1.0, C, F, 0.0, F.copy(order="F"))
    with pytest.raises(ValueError, match="c must be an F-contiguous"):
        dsyrk_lower_nogil(1.0, F, 0.0, C)
    with pytest.raises(ValueError, match="b must be an F-contiguous"):
        dtrsm_lower_nogil(1.0, F, F.astype(np.float32, order="F"))
