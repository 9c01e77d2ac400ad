"""Newton's method on an estimator's own objective (``refine=True``, SGD refits)."""

import numpy as np

from ._solvers import SingularHessianError


def newton_refine(rule, design, Y, s, max_iter=100):
    """Newton's method with backtracking on the estimator's own objective.

    Returns the rule at the refined parameters and the number of steps taken.
    Every step is accepted by an Armijo line search, which also handles
    piecewise-quadratic losses (squared hinge, modified Huber) whose
    generalised Hessian changes with the active set. It stops when the Newton
    decrement ``δ² = ∇Jᵀ H⁻¹ ∇J`` is below ``1e-30·max(1, |J|)``, or when the
    objective cannot decrease any more and ``δ²`` is already at rounding level
    (below ``1e-12·max(1, |J|)``: then at most three full steps are taken to
    finish the quadratic convergence that the line search cannot resolve).
    """
    J = rule.objective(design, Y, s)
    tail_steps = 0
    for it in range(max_iter):
        G = rule.objective_gradient(design, Y, s)
        hessian = rule.hessian(design, Y, s)
        try:
            inverse = hessian.factorize()
        except SingularHessianError:  # e.g. LinearRegression with p > n
            inverse = hessian.factorize(damping=1e-10 * max(1.0, abs(J)))
        step = inverse.solve(G[:, :, None])[:, :, 0]
        decrement2 = float(np.sum(G * step))
        scale = max(1.0, abs(J))
        if decrement2 <= 1e-30 * scale:
            return rule, it
        t = 1.0
        while t > 1e-12:
            candidate = rule.with_coef(rule.coef - t * step)
            J_new = candidate.objective(design, Y, s)
            if J_new <= J - 1e-4 * t * decrement2:
                break
            t *= 0.5
        else:
            if decrement2 > 1e-12 * scale or tail_steps >= 3:
                return rule, it
            tail_steps += 1
            candidate = rule.with_coef(rule.coef - step)
            J_new = candidate.objective(design, Y, s)
        rule, J = candidate, J_new
    return rule, max_iter
