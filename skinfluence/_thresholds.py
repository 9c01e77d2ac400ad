"""Turning per-row suspicion scores into a set of rows to drop."""

import numbers

import numpy as np
from scipy.stats import gaussian_kde

#: A valley counts when the density there is at most this fraction of the
#: smaller of the two modes it separates.
VALLEY_DEPTH = 0.5
_GRID_SIZE = 1024


def valley_threshold(scores):
    """The score at the valley between the bulk of the rows and a high-score mode.

    First et al. (2022) separate outliers by eye at the gap between the two modes
    of the self-influence histogram; this makes that rule automatic. Scores are
    mapped to ``t = asinh(s / m)`` with ``m`` the median absolute score (linear
    near zero, logarithmic for the heavy right tail that influence scores have),
    their density estimated with a Gaussian kernel (Scott's bandwidth), and the
    threshold is the lowest local minimum of the density to the right of both
    the main mode and the median whose density is at most ``VALLEY_DEPTH`` (one
    half) of the smaller of the two modes around it. Rows scoring above it are
    the outlying mode.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Larger means more suspicious.

    Returns
    -------
    threshold : float
        ``inf`` (drop nothing) when the scores have no such second mode.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> scores = np.r_[rng.exponential(1.0, 200), 300.0, 350.0]
    >>> t = valley_threshold(scores)
    >>> int(np.sum(scores > t))
    2
    >>> float(valley_threshold(rng.normal(size=500)))
    inf
    """
    scores = np.asarray(scores, dtype=float)
    finite = scores[np.isfinite(scores)]
    if finite.size < 3:
        return np.inf
    m = np.median(np.abs(finite))
    if m == 0:
        m = np.mean(np.abs(finite))
    if m == 0 or np.ptp(finite) == 0:
        return np.inf
    t = np.arcsinh(finite / m)
    try:
        kde = gaussian_kde(t)
    except np.linalg.LinAlgError:  # all values (nearly) equal
        return np.inf
    pad = 3 * np.sqrt(kde.covariance[0, 0])
    grid = np.linspace(t.min() - pad, t.max() + pad, _GRID_SIZE)
    density = kde(grid)
    main_mode = int(np.argmax(density))
    start = max(main_mode, int(np.searchsorted(grid, np.median(t))))
    interior = np.arange(start + 1, _GRID_SIZE - 1)
    minima = interior[
        (density[interior] <= density[interior - 1]) & (density[interior] < density[interior + 1])
    ]
    for v in minima:
        left_peak = density[: v + 1].max()
        right_peak = density[v:].max()
        if density[v] <= VALLEY_DEPTH * min(left_peak, right_peak):
            return float(m * np.sinh(grid[v]))
    return np.inf


def rows_to_drop(scores, threshold, contamination, eligible=None):
    """Boolean mask of rows to drop and the score threshold used.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Larger means more suspicious.
    threshold : "auto", float or None
        Drop rows scoring above it; ``"auto"`` is :func:`valley_threshold`.
        Ignored when ``contamination`` is given.
    contamination : float in [0, 0.5] or None
        Drop this fraction of the eligible rows, the highest scores first
        (ties broken by row order).
    eligible : ndarray of bool, default=None
        Rows that may be dropped and that count for ``contamination`` and
        ``"auto"`` (rows with zero sample weight are not: they are not part of
        the fit, so they are kept as they are).

    Returns
    -------
    drop : ndarray of bool
    threshold : float
        Rows with a score above it are dropped; with ``contamination`` the
        lowest dropped score (``inf`` when nothing is dropped).
    """
    n = scores.shape[0]
    eligible = np.ones(n, dtype=bool) if eligible is None else eligible
    drop = np.zeros(n, dtype=bool)
    candidates = np.flatnonzero(eligible)
    if contamination is not None:
        n_drop = int(round(contamination * candidates.size))
        if n_drop == 0:
            return drop, np.inf
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        drop[order[:n_drop]] = True
        return drop, float(scores[order[n_drop - 1]])
    if isinstance(threshold, str):  # "auto"
        threshold = valley_threshold(scores[candidates])
    elif threshold is None:
        return drop, np.inf
    if not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold must be 'auto', a number or None, got {threshold!r}.")
    drop[candidates] = scores[candidates] > threshold
    return drop, float(threshold)


def cap_per_group(drop, scores, groups, budget, eligible=None, n_target=None):
    """Limit the rows dropped from each group, the highest scores of a group first.

    Parameters
    ----------
    drop : ndarray of bool of shape (n_samples,)
        Rows selected for dropping (by a threshold or a contamination).
    scores : ndarray of shape (n_samples,)
        Larger means more suspicious.
    groups : ndarray of int of shape (n_samples,)
        Group (class) code of each row, in ``range(budget.size)``.
    budget : ndarray of int of shape (n_groups,)
        At most ``budget[g]`` rows of group ``g`` are dropped.
    eligible : ndarray of bool, default=None
        Rows that may be dropped (for ``n_target``).
    n_target : int, default=None
        With a contamination: the number of rows to drop. Rows of groups with
        budget left, highest scores first, take the place of the capped ones
        until ``n_target`` rows are dropped (or no eligible row is left).

    Returns
    -------
    capped : ndarray of bool of shape (n_samples,)
        The rows dropped, a subset of ``drop`` unless ``n_target`` refills.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    >>> groups = np.array([1, 1, 1, 0, 0, 0])
    >>> drop = scores > 2.5
    >>> cap_per_group(drop, scores, groups, np.array([1, 1])).nonzero()[0].tolist()
    [0]
    >>> cap_per_group(drop, scores, groups, np.array([1, 1]), n_target=2).nonzero()[0].tolist()
    [0, 3]
    """
    remaining = np.array(budget, dtype=int).copy()
    capped = np.zeros_like(drop)
    order = np.argsort(-scores, kind="stable")
    for i in order[drop[order]]:
        if remaining[groups[i]] > 0:
            capped[i] = True
            remaining[groups[i]] -= 1
    if n_target is not None:
        eligible = np.ones(drop.shape[0], dtype=bool) if eligible is None else eligible
        count = int(capped.sum())
        for i in order[eligible[order] & ~capped[order]]:
            if count >= n_target:
                break
            if remaining[groups[i]] > 0:
                capped[i] = True
                remaining[groups[i]] -= 1
                count += 1
    return capped
