"""Stacks of small dense systems, solved with undefined cases made explicit."""

import numpy as np

#: A system whose smallest singular value is below this, relative to its
#: largest (or to 1), is singular to rounding.
SINGULAR_TOL = float(np.sqrt(np.finfo(np.float64).eps))


def solve_or_nan(A, B, tol=SINGULAR_TOL):
    """``x_b = A_b⁻¹ B_b`` for each square system of a stack; NaN where ``A_b`` is singular.

    ``A_b`` is singular to rounding when ``σ_min(A_b) < tol · max(1, σ_max(A_b))``:
    its solution is then undefined (a row or group that alone determines a
    parameter) and is NaN, never an arbitrary finite number.

    Parameters
    ----------
    A : ndarray of shape (r, k, k)
        The systems; overwritten where singular.
    B : ndarray of shape (r, k)
        The right-hand sides.
    tol : float, default=SINGULAR_TOL

    Returns
    -------
    x : ndarray of shape (r, k)
    undefined : ndarray of bool, shape (r,)
    """
    sigma = np.linalg.svd(A, compute_uv=False)
    undefined = sigma[:, -1] < tol * np.maximum(1.0, sigma[:, 0])
    A[undefined] = np.eye(A.shape[-1])
    x = np.linalg.solve(A, B[:, :, None])[:, :, 0]
    x[undefined] = np.nan
    return x, undefined
