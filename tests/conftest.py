import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import scale

from skinfluence._demo import load_digits_1_vs_7


def pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def rel_err(approx, exact):
    """max |approx − exact| / max |exact|."""
    return float(np.max(np.abs(approx - exact)) / np.max(np.abs(exact)))


def median_row_error(approx, exact):
    """Median over rows of ‖approx_i − exact_i‖ / ‖exact_i‖."""
    return float(
        np.median(np.linalg.norm(approx - exact, axis=1) / np.linalg.norm(exact, axis=1))
    )


@pytest.fixture(scope="session")
def cancer():
    """A small, well-conditioned binary problem (standardised breast cancer)."""
    X, y = load_breast_cancer(return_X_y=True)
    X = scale(X)[:, :8]
    return X[:150], y[:150], X[150:200], y[150:200]


@pytest.fixture(scope="session")
def digits17():
    return load_digits_1_vs_7()


@pytest.fixture(scope="session")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = X @ rng.normal(size=5) + 0.5 * rng.normal(size=60) + 3.0
    Y = np.column_stack([y, -2 * y + rng.normal(size=60), rng.normal(size=60)])
    sw = rng.uniform(0.3, 3.0, size=60)
    X_test = rng.normal(size=(7, 5))
    Y_test = np.column_stack([X_test @ np.ones(5), X_test[:, 0], -X_test[:, 1]])
    return X, y, Y, sw, X_test, Y_test
