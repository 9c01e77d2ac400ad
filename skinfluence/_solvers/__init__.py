"""Inverse-Hessian application. Solvers know matrices and operators, never estimators.

:func:`make_inverse` is the one entry point: it returns an object with
``solve(B)`` for right-hand sides of shape ``(K, p̃, r)``, ``leverage_blocks``
and ``coupled``, whichever solver is chosen.
"""

import functools
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)

from ._cholesky import CholeskySolver, SingularHessianError
from ._dual import DualInverse
from ._iterative import (
    IterativeInverse,
    LissaDivergenceError,
    conjugate_gradient,
    lissa,
)
from ._operator import HessianOperator
from ._structured import BlockDiagonalHessian, FullHessian

#: Parameters each solver accepts through ``solver_params``, with defaults.
SOLVER_PARAMS = {
    "cholesky": {},
    "dual": {"tile": None, "backend": "numpy"},
    "cg": {"tol": 1e-10, "maxiter": None},
    "lissa": {
        "recursion_depth": 5000,
        "repeats": 10,
        "batch_size": 50,
        "scale": None,
        "random_state": None,
    },
}
SOLVERS = tuple(SOLVER_PARAMS)
#: What each solver parameter may be (scikit-learn's constraint idiom).
SOLVER_PARAM_CONSTRAINTS = {
    "tol": [Interval(Real, 0, None, closed="neither")],
    "maxiter": [Interval(Integral, 1, None, closed="left"), None],
    "recursion_depth": [Interval(Integral, 1, None, closed="left")],
    "repeats": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "scale": [Interval(Real, 0, None, closed="neither"), None],
    "random_state": ["random_state"],
    "tile": [Interval(Integral, 1, None, closed="left"), None],
    "backend": [StrOptions({"numpy", "dask"})],
}

#: ``solver="auto"`` factorises when the dense Hessian has at most this many rows
#: (``(K p̃)³/3`` flops ≈ 3·10¹¹, seconds; ``(K p̃)²`` doubles = 800 MB). Measured
#: at MNIST shape (K p̃ = 7,850, benchmarks/README.md): factorising beats CG from
#: ~8 test points on, and is the only practical route to self-influence.
AUTO_CHOLESKY_MAX_PARAMS = 10_000
#: ``solver="auto"`` uses the dual (n × n) factorisation up to this many rows
#: (an n × n matrix of 15,000 rows is 1.8 GB).
AUTO_DUAL_MAX_SAMPLES = 15_000
#: With ``solver="auto"`` and a matrix-free solver, the leverages (needed by
#: ``self_influence`` and ``method="newton"``) come from a Cholesky
#: factorisation when the dense Hessian has at most this many rows (3.2 GB):
#: one factorisation instead of ``n·K`` iterative solves.
AUTO_FACTOR_FOR_LEVERAGE_MAX_PARAMS = 20_000


def dual_applies(rule, damping):
    """Whether :class:`DualInverse` can be used: decoupled outputs, L2 on every coefficient."""
    p = rule.n_features
    return (not rule.coupled) and bool(np.all(rule.penalty[:, :p] + damping > 0))


def choose_solver(n_samples, n_params, n_columns, dual_ok):
    """The rule of ``solver="auto"`` (the table in the user guide).

    1. ``K p̃ ≤ 10,000``: ``"cholesky"`` (exact; the Hessian is small);
    2. else, decoupled outputs with an L2 penalty on every coefficient and
       ``n < p̃``, ``n ≤ 15,000``: ``"dual"`` (exact, ``n × n``);
    3. else ``"cg"`` (exact to its tolerance, matrix-free).

    ``"lissa"`` is never chosen automatically: it is stochastic, and CG needs
    fewer Hessian products for the accuracy influence needs.
    """
    if n_params <= AUTO_CHOLESKY_MAX_PARAMS:
        return "cholesky"
    if dual_ok and n_samples < n_columns and n_samples <= AUTO_DUAL_MAX_SAMPLES:
        return "dual"
    return "cg"


def check_solver_params(solver, params):
    """Defaults merged with the user's ``solver_params``; unknown keys rejected."""
    params = {} if params is None else dict(params)
    allowed = SOLVER_PARAMS[solver]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"solver_params {unknown} are not parameters of solver={solver!r}; it "
            f"accepts {sorted(allowed) or 'none'}."
        )
    merged = {**allowed, **params}
    try:
        validate_parameter_constraints(
            {k: SOLVER_PARAM_CONSTRAINTS[k] for k in merged},
            merged,
            caller_name=f"solver={solver!r}",
        )
    except InvalidParameterError as exc:
        message = str(exc).replace("The '", "solver_params['", 1).replace("' parameter of", "'] of", 1)
        raise InvalidParameterError(message) from None
    return merged


def make_inverse(solver, rule, design, Y, s, damping, params):
    """``H⁻¹`` of the rule's objective at its parameters, by the named solver."""
    if solver == "cholesky":
        return rule.hessian(design, Y, s).factorize(damping, CholeskySolver)
    W = rule.curvature_weights(design, Y, s)
    if solver == "dual":
        if rule.coupled:
            raise ValueError(
                "solver='dual' needs decoupled outputs (binary or one-vs-rest models, "
                "Ridge); multinomial LogisticRegression couples its classes. Use "
                "solver='cg'."
            )
        return DualInverse(design, W, rule.penalty, damping, **params)
    operator = HessianOperator(design, W, rule.penalty, damping, rule.null_columns)
    if solver == "cg":
        method = functools.partial(conjugate_gradient, tol=params["tol"], maxiter=params["maxiter"])
    else:
        if sp.issparse(design.X):
            raise TypeError(
                "solver='lissa' needs dense X; for sparse X use solver='cg' (exact to "
                "its tolerance, and faster on sparse data)."
            )
        method = functools.partial(lissa, **params)
    return IterativeInverse(operator, method, rule.coupled, solver)


__all__ = [
    "BlockDiagonalHessian",
    "CholeskySolver",
    "DualInverse",
    "FullHessian",
    "HessianOperator",
    "LissaDivergenceError",
    "SOLVERS",
    "SOLVER_PARAMS",
    "AUTO_FACTOR_FOR_LEVERAGE_MAX_PARAMS",
    "SingularHessianError",
    "check_solver_params",
    "choose_solver",
    "dual_applies",
    "make_inverse",
]
