"""Exact inverse-Hessian application by a LAPACK Cholesky factorisation."""

import numpy as np
from scipy.linalg import (
    LinAlgError,
    cho_factor,
    cho_solve,
    get_lapack_funcs,
    solve_triangular,
)


class SingularHessianError(LinAlgError):
    """The Hessian is singular or not positive definite: influence is undefined.

    Raised, for example, for LinearRegression with collinear features or more
    features than samples. Passing ``damping > 0`` to the explainer solves with
    ``H + damping·I`` instead.
    """


class CholeskySolver:
    """``H⁻¹ B`` through ``H = L Lᵀ`` (LAPACK ``potrf``/``potrs``).

    Parameters
    ----------
    hessian : ndarray of shape (d, d)
        Symmetric positive definite. It is not modified.
    rcond_min : float, optional
        Matrices whose estimated reciprocal condition number (LAPACK ``pocon``)
        is below this are treated as singular; default ``d · eps``.
    """

    name = "cholesky"

    def __init__(self, hessian, rcond_min=None):
        d = hessian.shape[0]
        rcond_min = d * np.finfo(np.float64).eps if rcond_min is None else rcond_min
        try:
            self._factor = cho_factor(hessian, lower=True, check_finite=False)
        except LinAlgError:
            raise SingularHessianError(
                "The Hessian is not positive definite (Cholesky failed), so the "
                "influence of a training point is undefined. This happens without "
                "regularisation when features are collinear or outnumber the "
                "samples; pass damping > 0 (e.g. damping=1e-3) to solve with "
                "H + damping·I."
            ) from None
        (pocon,) = get_lapack_funcs(("pocon",), (hessian,))
        anorm = np.abs(hessian).sum(axis=0).max()
        rcond, _ = pocon(self._factor[0], anorm, uplo="L")
        self.rcond = float(rcond)
        if not self.rcond > rcond_min:
            raise SingularHessianError(
                f"The Hessian is numerically singular (reciprocal condition number "
                f"{self.rcond:.2e}), so the influence of a training point is "
                "undefined. This happens without regularisation when features are "
                "collinear or outnumber the samples; pass damping > 0 (e.g. "
                "damping=1e-3) to solve with H + damping·I."
            )

    def solve(self, B):
        """``H⁻¹ B`` for B of shape (d,) or (d, m)."""
        return cho_solve(self._factor, B, check_finite=False)

    def whiten(self, B):
        """``L⁻¹ B``, so that ``‖L⁻¹ b‖² = bᵀ H⁻¹ b`` (one triangular solve)."""
        return solve_triangular(self._factor[0], B, lower=True, check_finite=False)
