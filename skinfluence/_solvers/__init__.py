"""Inverse-Hessian application. Solvers know matrices, never estimators."""

from ._cholesky import CholeskySolver, SingularHessianError
from ._structured import BlockDiagonalHessian, FullHessian

SOLVERS = {"cholesky": CholeskySolver}

__all__ = [
    "BlockDiagonalHessian",
    "CholeskySolver",
    "FullHessian",
    "SOLVERS",
    "SingularHessianError",
]
