"""Exact inverse-Hessian application by a LAPACK Cholesky factorisation."""

import numpy as np
from scipy.linalg import (
    LinAlgError,
    cho_factor,
    cho_solve,
    get_lapack_funcs,
    solve_triangular,
)

from .._blas import dtrmm_lower_nogil


class SingularHessianError(LinAlgError):
    """The Hessian is singular or not positive definite: influence is undefined.

    Raised, for example, for LinearRegression with collinear features or more
    features than samples; the explainer's message names the cause it finds
    in the data. Passing ``damping > 0`` to the explainer solves with
    ``H + damping·I`` instead.
    """


class CholeskySolver:
    """``H⁻¹ B`` through an equilibrated Cholesky factorisation.

    ``H`` is first scaled symmetrically to unit diagonal,
    ``S = D⁻¹ H D⁻¹`` with ``D = diag(√Hⱼⱼ)``, and ``S = L Lᵀ`` is factorised
    by LAPACK (``potrf``); then ``H⁻¹ B = D⁻¹ S⁻¹ D⁻¹ B``. The scaling makes the
    singularity test independent of the units of the features (a column of
    Unix timestamps next to one of ratios is badly scaled, not singular):
    only a matrix whose *scaled* reciprocal condition number (LAPACK
    ``pocon``) is below ``rcond_min`` is refused.

    Parameters
    ----------
    hessian : ndarray of shape (d, d)
        Symmetric positive definite. It is not modified.
    rcond_min : float, optional
        Scaled matrices whose estimated reciprocal condition number is below
        this are treated as singular; default ``d · eps``.
    overwrite : bool, default=False
        Scale and factorise ``hessian`` in place (the caller's copy), saving
        one ``d × d`` array.

    Raises
    ------
    SingularHessianError
        When ``H`` has a zero or negative diagonal entry, is not positive
        definite, or is numerically singular after scaling. The message says
        which; the explainer adds the cause it finds in the data.
    """

    name = "cholesky"

    def __init__(self, hessian, rcond_min=None, overwrite=False):
        d = hessian.shape[0]
        rcond_min = d * np.finfo(np.float64).eps if rcond_min is None else rcond_min
        diag = np.diag(hessian).copy()
        if not np.all(np.isfinite(hessian)):
            raise SingularHessianError(
                "The Hessian has infinite or NaN entries: some feature values are "
                "too large to square in double precision. Rescale the features "
                "(e.g. StandardScaler)."
            )
        zero = np.flatnonzero(~(diag > 0))
        if zero.size:
            self.zero_diagonal = zero
            raise SingularHessianError(
                f"The Hessian has no curvature along parameter(s) {zero.tolist()[:10]} "
                "(zero diagonal), so the influence of a training point is undefined."
            )
        self.scale = 1.0 / np.sqrt(diag)
        self._inverse_lower = None
        scaled = hessian if overwrite else hessian.copy()
        scaled *= self.scale[:, None]
        scaled *= self.scale[None, :]
        anorm = np.abs(scaled).sum(axis=0).max()
        try:
            self._factor = cho_factor(scaled, lower=True, overwrite_a=True, check_finite=False)
        except LinAlgError:
            raise SingularHessianError(
                "The Hessian is not positive definite (Cholesky failed), so the "
                "influence of a training point is undefined."
            ) from None
        (pocon,) = get_lapack_funcs(("pocon",), (scaled,))
        rcond, _ = pocon(self._factor[0], anorm, uplo="L")
        self.rcond = float(rcond)
        if not self.rcond > rcond_min:
            raise SingularHessianError(
                f"The Hessian is numerically singular (reciprocal condition number "
                f"{self.rcond:.2e} after scaling every parameter to unit curvature), "
                "so the influence of a training point is undefined."
            )

    def solve(self, B):
        """``H⁻¹ B`` for B of shape (d,) or (d, m)."""
        scale = self.scale if np.ndim(B) == 1 else self.scale[:, None]
        return scale * cho_solve(self._factor, scale * B, check_finite=False)

    def whiten(self, B):
        """``L⁻¹ D⁻¹ B``, so that ``‖L⁻¹ D⁻¹ b‖² = bᵀ H⁻¹ b`` (one triangular solve)."""
        scale = self.scale if np.ndim(B) == 1 else self.scale[:, None]
        return solve_triangular(self._factor[0], scale * B, lower=True, check_finite=False)

    def inverse_norms_inplace(self, B):
        """``bⱼᵀ H⁻¹ bⱼ`` for the columns of ``B`` (d, k); ``B`` is overwritten.

        ``H = (D L)(D L)ᵀ``, so ``bᵀ H⁻¹ b = ‖(D L)⁻¹ b‖²``. The triangular
        inverse ``(D L)⁻¹`` is formed once (LAPACK ``trtri``, ``d³/3`` flops)
        and applied by BLAS ``trmm``, in place when ``B`` is F-contiguous (no
        scaling pass, no copy), then the squared column norms. ``trmm`` has
        ``trsm``'s flop count without its serial dependency: measured 5-25 %
        faster on one OpenBLAS thread (n = 5,000-50,000, p = 50-200).
        """
        if self._inverse_lower is None:
            DL = np.asfortranarray(self._factor[0] / self.scale[:, None])
            (trtri,) = get_lapack_funcs(("trtri",), (DL,))
            inv, info = trtri(DL, lower=1, overwrite_c=1)
            if info != 0:  # unreachable after the rcond check; never a wrong number
                raise SingularHessianError("The Cholesky factor is singular.")
            self._inverse_lower = np.asfortranarray(np.tril(inv))
        if not (B.flags.f_contiguous and B.dtype == np.float64):
            B = np.asfortranarray(B, dtype=np.float64)
        dtrmm_lower_nogil(1.0, self._inverse_lower, B)  # the GIL-free path of _blas
        return np.einsum("ij,ij->j", B, B)
