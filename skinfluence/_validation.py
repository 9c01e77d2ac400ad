"""Input checks shared by the explainer and ``loo_refit``. Nothing here mutates."""

import numbers
import warnings

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.validation import check_array, validate_data


def transform_features(steps, final_estimator, X, name="X"):
    """Apply the fixed preprocessing steps, then check ``X`` against the model.

    Returns a float64 array or CSR/CSC matrix with ``n_features_in_`` columns and
    only finite values (``sklearn.utils.validation.validate_data`` with
    ``reset=False``: the estimator is not modified).
    """
    for step in steps:
        X = step.transform(X)
    try:
        return validate_data(
            final_estimator,
            X,
            reset=False,
            accept_sparse=("csr", "csc"),
            dtype=np.float64,
            ensure_all_finite=True,
        )
    except ValueError as exc:
        raise ValueError(f"Invalid {name}: {exc}") from exc


def check_targets(y, n_samples, name="y", multi_output=False):
    """``y`` as an array with ``n_samples`` rows, no NaN/inf and no missing labels.

    As scikit-learn does, a column vector ``(n, 1)`` for a model fitted on a
    1-D target is ravelled with a ``DataConversionWarning``; any other 2-D
    ``y`` is refused unless the model has several outputs (``multi_output``,
    multi-target Ridge), whose width the rule checks.
    """
    if y is None:
        raise ValueError(f"{name} is required.")
    y = check_array(
        y, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name=name
    )
    if y.ndim > 2 or y.shape[0] != n_samples:
        raise ValueError(
            f"{name} has shape {y.shape} but the features have {n_samples} rows."
        )
    if y.dtype == object:
        missing = np.flatnonzero([_is_missing(v) for v in (y.ravel() if y.ndim == 1 else y[:, 0])])
        if missing.size:
            raise ValueError(
                f"{name} has missing labels (None or NaN) at rows {_few(missing)}; "
                "every row needs a label."
            )
    if y.ndim == 2 and not multi_output:
        if y.shape[1] == 1:
            warnings.warn(
                f"A column-vector {name} was passed when a 1d array was expected. "
                f"Please change the shape of {name} to (n_samples,), for example "
                "using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
            return y[:, 0]
        raise ValueError(
            f"{name} has shape {y.shape}, but the estimator was fitted on a 1-D "
            f"target: expected shape ({n_samples},) — one class label (or value) per "
            "row, not one-hot or indicator columns."
        )
    return y


def _is_missing(value):
    return value is None or (isinstance(value, float) and value != value)


def _few(rows, limit=10):
    """Row indices for a message: all of them, or the first ``limit`` and a count."""
    rows = [int(r) for r in rows]
    if len(rows) <= limit:
        return str(rows)
    return f"{rows[:limit]} and {len(rows) - limit} more"


def check_estimator_argument(estimator, method="fit"):
    """Refuse data passed where the fitted estimator goes (``fit(X, y)``, ``fit(X, y, clf)``)."""
    if hasattr(estimator, "fit") and (hasattr(estimator, "get_params") or hasattr(estimator, "predict")):
        return
    kind = type(estimator).__name__
    raise TypeError(
        f"{method}(estimator, X, y): the first argument must be a fitted "
        f"scikit-learn estimator (e.g. LogisticRegression().fit(X, y)), got {kind}. "
        "Pass the estimator first, then its training data."
    )


def check_sample_weight(sample_weight, n_samples):
    """Non-negative, finite float weights of length ``n_samples`` (None means ones)."""
    if sample_weight is None:
        return np.ones(n_samples)
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, float(sample_weight))
    sw = check_array(
        sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight"
    )
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has shape {sw.shape}, expected ({n_samples},)."
        )
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative.")
    if n_samples and not np.any(sw > 0):
        raise ValueError(
            "sample_weight is zero for every row: the model has no training data "
            "to be influenced by."
        )
    return sw


def check_indices(indices, n_samples):
    """Training-row indices (ints, possibly negative, or a boolean mask) as int array."""
    if indices is None:
        return np.arange(n_samples)
    idx = np.asarray(indices)
    if idx.dtype == bool:
        if idx.shape != (n_samples,):
            raise ValueError(
                f"A boolean indices mask must have shape ({n_samples},), got {idx.shape}."
            )
        return np.flatnonzero(idx)
    idx = np.atleast_1d(idx)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise ValueError("indices must be a 1-D array of integers or a boolean mask.")
    if idx.size and (idx.max() >= n_samples or idx.min() < -n_samples):
        raise IndexError(
            f"indices out of range for {n_samples} training samples."
        )
    return np.where(idx < 0, idx + n_samples, idx).astype(np.intp)


def encode_targets(rule, y, name="y"):
    """``rule.encode_targets(y)`` with errors that name the argument (``y_test``, ``new_labels``)."""
    try:
        return rule.encode_targets(y)
    except ValueError as exc:
        message = str(exc)
        if name != "y" and message.startswith("y "):
            message = name + message[1:]
        raise ValueError(message) from None
