"""Newton's method on an estimator's own objective (``refine=True``, SGD refits)."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._solvers import SingularHessianError


def _dense_inverse(rule, design, Y, s, damping):
    return rule.hessian(design, Y, s).factorize(damping=damping)


def newton_refine(rule, design, Y, s, max_iter=100, inverse=_dense_inverse):
    """Newton's method with backtracking on the estimator's own objective.

    Returns the rule at the refined parameters and the number of steps taken.
    While the Newton decrement ``δ² = ∇Jᵀ H⁻¹ ∇J`` is above rounding level
    (``1e-12·max(1, |J|)``) every step is accepted by an Armijo line search,
    which also handles piecewise-quadratic losses (squared hinge, modified
    Huber) whose generalised Hessian changes with the active set; if no step
    decreases ``J``, it stops. Below that level ``J`` cannot resolve the
    decrease (a line search would accept steps on rounding noise), so at most
    three full Newton steps finish the quadratic convergence. It stops when
    ``δ² ≤ 1e-30·max(1, |J|)``.

    ``inverse(rule, design, Y, s, damping)`` returns an object whose
    ``solve`` applies ``H⁻¹`` at the rule's parameters (default: the dense
    Hessian's Cholesky factorisation; the explainer passes its own solver).
    """
    J = rule.objective(design, Y, s)
    tail_steps = 0
    for it in range(max_iter):
        G = rule.objective_gradient(design, Y, s)
        try:
            solver = inverse(rule, design, Y, s, 0.0)
        except SingularHessianError:  # e.g. LinearRegression with p > n
            solver = inverse(rule, design, Y, s, 1e-10 * max(1.0, abs(J)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # judged by J below
            step = solver.solve(G[:, :, None])[:, :, 0]
        decrement2 = float(np.sum(G * step))
        scale = max(1.0, abs(J))
        if decrement2 <= 1e-30 * scale:
            return rule, it
        if decrement2 <= 1e-12 * scale:
            # J cannot resolve the remaining decrease (rounding): a line search
            # would accept steps on noise; finish with at most three full steps.
            if tail_steps >= 3:
                return rule, it
            tail_steps += 1
            candidate = rule.with_coef(rule.coef - step)
            J_new = candidate.objective(design, Y, s)
        else:
            t = 1.0
            while t > 1e-12:
                candidate = rule.with_coef(rule.coef - t * step)
                with np.errstate(over="ignore", invalid="ignore"):
                    J_new = candidate.objective(design, Y, s)  # inf/NaN: rejected
                if J_new <= J - 1e-4 * t * decrement2:
                    break
                t *= 0.5
            else:
                return rule, it
        rule, J = candidate, J_new
    return rule, max_iter
