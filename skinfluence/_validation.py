"""Input checks shared by the explainer and ``loo_refit``. Nothing here mutates."""

import numbers

import numpy as np
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


def check_targets(y, n_samples, name="y"):
    """``y`` as an array with ``n_samples`` rows and no NaN/inf (labels checked by the rule)."""
    if y is None:
        raise ValueError(f"{name} is required.")
    y = check_array(
        y, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name=name
    )
    if y.ndim > 2 or y.shape[0] != n_samples:
        raise ValueError(
            f"{name} has shape {y.shape} but the features have {n_samples} rows."
        )
    if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind not in "fc":
        y = y[:, 0]
    return y


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
