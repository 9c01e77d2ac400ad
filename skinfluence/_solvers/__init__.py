"""Inverse-Hessian application. Solvers know matrices, never estimators."""

from ._cholesky import CholeskySolver, SingularHessianError

SOLVERS = {"cholesky": CholeskySolver}

__all__ = ["CholeskySolver", "SOLVERS", "SingularHessianError"]
