"""Margin losses ``ℓ(y, z) = φ(y·z)``, y ∈ {−1, +1}, fitted one-vs-rest.

Used by LinearSVC and SGDClassifier. Each output ``k`` is the binary problem
"class k against the rest" (binary problems have one output, positive class
``classes_[1]``); the test loss is the sum of the K binary losses. Derivatives
in ``z``: ``r = y φ'(y z)`` and ``D = φ''(y z)`` (``y² = 1``).

| name | φ(m) | φ'(m) | φ''(m) |
| --- | --- | --- | --- |
| squared_hinge | ``max(0, 1 − m)²`` | ``−2 max(0, 1 − m)`` | ``2·[m < 1]`` (generalised) |
| hinge | ``max(0, 1 − m)`` | from the smooth hinge (below) | idem |
| log_loss | ``log(1 + e^{−m})`` | ``−σ(−m)`` | ``σ(m) σ(−m)`` |
| modified_huber | ``max(0, 1 − m)²`` if ``m ≥ −1`` else ``−4m`` | ``−2 max(0, 1 − m)`` or ``−4`` | ``2·[−1 ≤ m < 1]`` |

The hinge is not differentiable at ``m = 1``. Following Koh & Liang (2017,
§4.1), its derivatives are taken from ``SmoothHinge(m, t) = t·log(1 +
exp((1 − m)/t))``: ``φ' = −σ((1 − m)/t)``, ``φ'' = σ(u)(1 − σ(u))/t`` with
``u = (1 − m)/t``, at the hinge-trained parameters; ``t = 0`` means the
hinge's own subgradient ``−[m < 1]`` and zero curvature. The loss itself, and
hence every loss change reported, is the real hinge.
"""

import functools

import numpy as np
from scipy.special import expit

from ._base import LinearRule
from ._classes import ClassLabelsMixin
from ._loss_kernels import (
    MARGIN_KINDS,
    margin_change,
    margin_diff_np,
    softplus_change,
    softplus_diff_np,
)


def _squared_hinge(m):
    return np.maximum(0.0, 1.0 - m) ** 2


def _squared_hinge_d1(m):
    return -2.0 * np.maximum(0.0, 1.0 - m)


def _squared_hinge_d2(m):
    return 2.0 * (m < 1.0)


def _modified_huber(m):
    return np.where(m >= -1.0, np.maximum(0.0, 1.0 - m) ** 2, -4.0 * m)


def _modified_huber_d1(m):
    return np.where(m >= -1.0, -2.0 * np.maximum(0.0, 1.0 - m), -4.0)


def _modified_huber_d2(m):
    return 2.0 * ((m >= -1.0) & (m < 1.0))


def _log_loss(m):
    return np.logaddexp(0.0, -m)


def _log_loss_d1(m):
    return -expit(-m)


def _log_loss_d2(m):
    return expit(m) * expit(-m)


def _hinge(m):
    return np.maximum(0.0, 1.0 - m)


def _hinge_subgradient(m):
    return -1.0 * (m < 1.0)


def _zero_curvature(m):
    return np.zeros_like(m)


def _smooth_hinge_d1(m, t):
    return -expit((1.0 - m) / t)


def _smooth_hinge_d2(m, t):
    return expit((1.0 - m) / t) * expit(-(1.0 - m) / t) / t


_MARGIN_LOSSES = {
    "squared_hinge": (_squared_hinge, _squared_hinge_d1, _squared_hinge_d2),
    "modified_huber": (_modified_huber, _modified_huber_d1, _modified_huber_d2),
    "log_loss": (_log_loss, _log_loss_d1, _log_loss_d2),
}


def margin_loss(name, t=1e-3):
    """``(φ, φ', φ'')`` of a margin loss, vectorised over ``m``.

    Module-level functions (or ``functools.partial`` of them), so that rules,
    and the explainers holding them, pickle.
    """
    if name in _MARGIN_LOSSES:
        return _MARGIN_LOSSES[name]
    if name == "hinge":
        if t == 0:
            return _hinge, _hinge_subgradient, _zero_curvature
        return (
            _hinge,
            functools.partial(_smooth_hinge_d1, t=t),
            functools.partial(_smooth_hinge_d2, t=t),
        )
    raise ValueError(f"unknown margin loss {name!r}")


class OneVsRestMarginRule(ClassLabelsMixin, LinearRule):
    """Shared calculus of one-vs-rest linear classifiers with a margin loss.

    Subclasses set ``coef``, ``penalty``, ``scale`` and ``fit_intercept``
    through ``LinearRule.__init__`` and call ``_set_loss``.
    """

    def _set_loss(self, estimator, loss_name, smooth_hinge_t):
        self._init_classes(estimator)
        self.loss_name = loss_name
        self.smooth_surrogate = loss_name == "hinge"
        self.smooth_hinge_t = smooth_hinge_t
        self._phi, self._dphi, self._d2phi = margin_loss(loss_name, smooth_hinge_t)

    def encode_targets(self, y):
        codes = self.encode_labels(y)
        if len(self.classes) == 2:
            return np.where(codes == 1, 1.0, -1.0)[:, None]
        return np.where(codes[:, None] == np.arange(len(self.classes)), 1.0, -1.0)

    def sample_scale(self, y, sample_weight):
        """Binary: the row's class weight. One-vs-rest: the class weight of
        output k for the rows of class k, 1 for the rest (liblinear, SGD)."""
        weights = self.class_weights(y, sample_weight)
        if weights is None:
            return sample_weight[:, None]
        codes = self.encode_labels(y)
        if len(self.classes) == 2:
            return (sample_weight * weights[codes])[:, None]
        own = codes[:, None] == np.arange(len(self.classes))
        return sample_weight[:, None] * np.where(own, weights[None, :], 1.0)

    def output_loss(self, Y, Z):
        return self._phi(Y * Z)

    loss_change_kernel = True

    def loss_change(self, Y, Z, dZ):
        """``Σ_k φ(y(z + Δ)) − φ(y z)``, piece by piece (see ``_loss_kernels``)."""
        m, d = Y * Z, Y * dZ
        if self.loss_name == "log_loss":  # φ(m) = sp(−m)
            return np.sum(softplus_diff_np(-m, -d), axis=-1)
        return np.sum(margin_diff_np(MARGIN_KINDS[self.loss_name], m, d), axis=-1)

    def loss_change_into(self, Y, Z, D, bound=None):
        """In place by the softplus or margin kernel, one output."""
        y, z = np.ascontiguousarray(Y[:, 0]), np.ascontiguousarray(Z[:, 0])
        if self.loss_name == "log_loss":
            softplus_change(D, -y, -y * z, bound)
        else:
            margin_change(D, y, z, MARGIN_KINDS[self.loss_name])

    def loss_gradient(self, Y, Z):
        return Y * self._dphi(Y * Z)

    def loss_curvature(self, Y, Z):
        return self._d2phi(Y * Z) + 0.0 * Y


class LinearSVCRule(OneVsRestMarginRule):
    """Calculus of a fitted ``LinearSVC`` (L2 penalty, squared hinge or hinge).

    liblinear minimises ``½‖w̃‖² + C Σ_i s_i φ(y_i w̃ᵀ[x_i, a])`` per output,
    with ``a = intercept_scaling``: in terms of ``intercept_ = a·w̃_a`` the
    intercept is penalised by ``½ b²/a²``. Primal and dual solvers share it.
    """

    def __init__(self, estimator, smooth_hinge_t=1e-3):
        if estimator.penalty != "l2":
            raise ValueError(
                "LinearSVC(penalty='l1') is not supported: its objective is not "
                "twice differentiable. Use penalty='l2'."
            )
        if getattr(estimator, "multi_class", "ovr") == "crammer_singer":
            raise ValueError("LinearSVC(multi_class='crammer_singer') is not supported.")
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        fit_intercept = bool(estimator.fit_intercept)
        lam = np.ones(coef.shape[1] + fit_intercept)
        if fit_intercept:
            intercept = np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1, 1)
            coef = np.hstack([coef, intercept])
            lam[-1] = 1.0 / estimator.intercept_scaling**2
        super().__init__(coef, lam[None, :], estimator.C, fit_intercept)
        self._set_loss(estimator, estimator.loss, smooth_hinge_t)


class SGDClassifierRule(OneVsRestMarginRule):
    """Calculus of a fitted ``SGDClassifier`` with an L2 penalty.

    SGD minimises ``(1/n) Σ_i s_i φ(y_i z_i) + (alpha/2)‖w‖²`` per output,
    the intercept unpenalised, ``n`` the training rows: ``c·s_i = s_i / n`` and
    ``λ = alpha``. SGD stops short of that optimum; ``refine=True`` reaches it.
    """

    supported_losses = ("log_loss", "hinge", "squared_hinge", "modified_huber")
    solver_reaches_optimum = False

    def __init__(self, estimator, smooth_hinge_t=1e-3):
        check_sgd(estimator, self.supported_losses)
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        fit_intercept = bool(estimator.fit_intercept)
        lam = np.full(coef.shape[1] + fit_intercept, float(estimator.alpha))
        if fit_intercept:
            intercept = np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1, 1)
            coef = np.hstack([coef, intercept])
            lam[-1] = 0.0
        super().__init__(coef, lam[None, :], 1.0, fit_intercept)
        self._set_loss(estimator, estimator.loss, smooth_hinge_t)

    def sample_scale(self, y, sample_weight):
        return super().sample_scale(y, sample_weight) / len(y)

    def __getattr__(self, name):
        # predict_proba exists for the losses whose SGDClassifier has it
        if name == "predict_proba" and self.__dict__.get("loss_name") in ("log_loss", "modified_huber"):
            return self._predict_proba
        raise AttributeError(name)

    def _predict_proba(self, Z):
        """As ``SGDClassifier.predict_proba``: per-output probabilities, normalised (OvR)."""
        if self.loss_name == "log_loss":
            P = expit(Z)
        else:
            P = (np.clip(Z, -1.0, 1.0) + 1.0) / 2.0
        if Z.shape[-1] == 1:
            return np.concatenate([1.0 - P, P], axis=-1)
        total = P.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total == 0, 1.0 / Z.shape[-1], P / total)


def check_sgd(estimator, losses):
    """SGD configurations with a twice-differentiable objective at an optimum."""
    name = type(estimator).__name__
    if estimator.penalty != "l2":
        raise ValueError(
            f"{name}(penalty={estimator.penalty!r}) is not supported: its objective "
            "is not twice differentiable. Use penalty='l2'."
        )
    if estimator.loss not in losses:
        raise ValueError(
            f"{name}(loss={estimator.loss!r}) is not supported; supported losses: "
            f"{', '.join(losses)}."
        )
    if getattr(estimator, "average", False):
        raise ValueError(
            f"{name}(average=...) is not supported: averaged SGD weights are not the "
            "optimum of an objective."
        )
