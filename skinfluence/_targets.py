"""Targets: what a change of the decision values ``Δz`` means to the user.

Removing (or editing) training rows moves the parameters by ``Δθ``, and every
prediction of a linear model moves with them along ``Δz = X̃ Δθᵀ``, exactly.
A *target* turns ``Δz`` into the number asked for:

==================== ================================= ==============================
target               ``newton`` (exact at ``z + Δz``)   ``first_order`` (linearised)
==================== ================================= ==============================
``"loss"``           ``ℓ(y, z + Δz) − ℓ(y, z)``         ``∂ℓ/∂z · Δz``
``"decision_function"`` ``Δz``                          ``Δz`` (linear in ``Δθ``)
``"predict_proba"``  ``p(z + Δz) − p(z)``               ``∂p/∂z · Δz``
``"predict"``        regressors: ``Δz``; classifiers:   regressors: ``Δz``;
                     1.0 where the predicted class      classifiers: not
                     changes, else 0.0                  differentiable (an error)
==================== ================================= ==============================

Each target is a small object with ``value(rule, Y, Z)`` (the target at
decision values ``Z``), ``change`` (exact) and ``linear_change`` (first
order); arrays broadcast over leading axes, the outputs axis last.
"""

import numpy as np

TARGETS = ("loss", "decision_function", "predict_proba", "predict")


def is_classifier_rule(rule):
    return hasattr(rule, "classes")


class _Loss:
    name = "loss"
    needs_labels = True

    def width(self, rule):
        return None

    def value(self, rule, Y, Z):
        return rule.loss(Y, Z)

    def change(self, rule, Y, Z, dZ):
        return rule.loss_change(Y, Z, dZ)

    def linear_change(self, rule, Y, Z, dZ):
        return np.sum(rule.loss_gradient(Y, Z) * dZ, axis=-1)


class _Decision:
    name = "decision_function"
    needs_labels = False

    def width(self, rule):
        return None if rule.n_outputs == 1 else rule.n_outputs

    def _squeeze(self, rule, A):
        return A[..., 0] if rule.n_outputs == 1 else A

    def value(self, rule, Y, Z):
        return self._squeeze(rule, Z)

    def change(self, rule, Y, Z, dZ):
        return self._squeeze(rule, np.broadcast_to(dZ, np.broadcast_shapes(Z.shape, dZ.shape)))

    linear_change = change


class _Proba:
    name = "predict_proba"
    needs_labels = False

    def width(self, rule):
        return len(rule.classes)

    def check(self, rule):
        if not hasattr(rule, "predict_proba"):
            raise ValueError(
                "target='predict_proba' needs an estimator with predict_proba "
                "(LogisticRegression, SGDClassifier with loss='log_loss' or "
                "'modified_huber'); use target='decision_function' instead."
            )

    def value(self, rule, Y, Z):
        return rule.predict_proba(Z)

    def change(self, rule, Y, Z, dZ):
        return rule.predict_proba(Z + dZ) - rule.predict_proba(Z)

    def linear_change(self, rule, Y, Z, dZ):
        if not hasattr(rule, "proba_jvp"):
            raise ValueError(
                "target='predict_proba' has no closed-form derivative for this "
                "estimator; use method='newton', which evaluates the probabilities "
                "exactly at the shifted decision values."
            )
        return rule.proba_jvp(Z, dZ)


class _Predict:
    name = "predict"
    needs_labels = False

    def width(self, rule):
        if is_classifier_rule(rule):
            return None
        return _Decision().width(rule)

    def value(self, rule, Y, Z):
        if is_classifier_rule(rule):
            return rule.classes[class_index(rule, Z)]
        return _Decision().value(rule, Y, Z)

    def change(self, rule, Y, Z, dZ):
        if is_classifier_rule(rule):
            return (class_index(rule, Z + dZ) != class_index(rule, Z)).astype(np.float64)
        return _Decision().change(rule, Y, Z, dZ)

    def linear_change(self, rule, Y, Z, dZ):
        if is_classifier_rule(rule):
            raise ValueError(
                "target='predict' of a classifier is a step function with no "
                "derivative; use method='newton', which evaluates the predicted "
                "class exactly at the shifted decision values."
            )
        return _Decision().change(rule, Y, Z, dZ)


def class_index(rule, Z):
    """Index in ``classes_`` of the predicted class at decision values ``Z``."""
    if Z.shape[-1] == 1:
        return (Z[..., 0] > 0).astype(np.intp)
    return np.argmax(Z, axis=-1)


_BY_NAME = {t.name: t for t in (_Loss(), _Decision(), _Proba(), _Predict())}


def get_target(name, rule):
    """The target object called ``name``, checked against the rule."""
    if name not in _BY_NAME:
        raise ValueError(f"target must be one of {TARGETS}, got {name!r}.")
    target = _BY_NAME[name]
    if hasattr(target, "check"):
        target.check(rule)
    return target
