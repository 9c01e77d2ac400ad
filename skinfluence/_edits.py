"""Edits of the training data beyond removing one row: groups, relabelling, perturbation.

Every edit changes the objective by a few per-row terms and so moves the
parameters by ``Δθ = H⁻¹ Σᵢ (ŵᵢ ⊗ x̃ᵢ)`` for some per-row weights ``ŵᵢ``
(``K`` numbers per row): the rest of the library (targets, tables) only sees
``Δθ`` or the weights. With ``Uᵢ = I_K ⊗ x̃ᵢ``, ``gᵢ = c sᵢ ∂ℓᵢ/∂z`` and
``Cᵢ = c sᵢ ∂²ℓᵢ/∂z²``:

============================ ================================ ==========================================
edit                         first order ``ŵ``                 newton ``ŵ`` (one Newton step, Woodbury)
============================ ================================ ==========================================
remove group ``G``           ``g_G``                           ``(I − C_G M_G)⁻¹ g_G``, ``M_G = U_Gᵀ H⁻¹ U_G``
relabel ``yᵢ → y′ᵢ``         ``−(g′ᵢ − gᵢ)``                   ``(I + (C′ᵢ − Cᵢ) Mᵢ)⁻¹ (−(g′ᵢ − gᵢ))``
perturb ``xᵢ → xᵢ + δ``      ``∂Δθ/∂δ = −H⁻¹ ∂(∇_θ sᵢcℓᵢ)/∂xᵢ``  — (a derivative: first order by definition)
============================ ================================ ==========================================

The group identity is the push-through form of Woodbury,
``(H − U C Uᵀ)⁻¹ U γ = H⁻¹ U (I − C Uᵀ H⁻¹ U)⁻¹ γ``: a ``|G|K × |G|K``
capacitance system per group, never a new ``p̃ × p̃`` factorisation. For
Ridge and LinearRegression (quadratic objectives) the Newton step is the
exact refit.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import check_array

from ._linalg import SINGULAR_TOL, solve_or_nan
from ._validation import encode_targets

#: A capacitance system ``I − C_G M_G`` whose smallest singular value is below
#: this (relative to its largest) is singular to rounding: the group alone
#: determines a parameter, and the model without it is undefined.
CAPACITANCE_TOL = SINGULAR_TOL


def check_groups(groups, n_samples):
    """Groups as a list of index arrays, and their names.

    ``groups`` is either a 1-D array of ``n_samples`` group labels (as
    scikit-learn's ``groups=``; one group per distinct label, in
    ``np.unique`` order, named by the label), or a list of index arrays or
    boolean masks (groups may overlap and differ in size; named 0, 1, …).
    """
    if groups is None:
        raise ValueError("groups is required: a list of index arrays or masks, or n labels.")
    if isinstance(groups, (list, tuple)) and groups and all(
        np.ndim(g) == 1 and not isinstance(g, str) for g in groups
    ):
        arrays = []
        for k, g in enumerate(groups):
            g = np.asarray(g)
            if g.dtype == bool:
                if g.shape != (n_samples,):
                    raise ValueError(
                        f"group {k} is a boolean mask of shape {g.shape}; expected "
                        f"({n_samples},)."
                    )
                g = np.flatnonzero(g)
            elif g.size and g.dtype.kind not in "iu":
                raise ValueError(f"group {k} must hold integer row indices or be a boolean mask.")
            if g.size == 0:
                raise ValueError(f"group {k} is empty.")
            arrays.append(g)
        # all groups at once: range check, negative indices, sort and deduplicate
        owner = np.repeat(np.arange(len(arrays)), [g.size for g in arrays])
        flat = np.concatenate(arrays).astype(np.intp)
        out_of_range = (flat >= n_samples) | (flat < -n_samples)
        if out_of_range.any():
            k = owner[np.argmax(out_of_range)]
            raise IndexError(f"group {k} has row indices out of range for {n_samples} rows.")
        flat = np.where(flat < 0, flat + n_samples, flat)
        order = np.lexsort((flat, owner))
        flat, owner = flat[order], owner[order]
        keep = np.ones(flat.size, dtype=bool)
        keep[1:] = (flat[1:] != flat[:-1]) | (owner[1:] != owner[:-1])
        counts = np.bincount(owner[keep], minlength=len(arrays))
        members = np.split(flat[keep], np.cumsum(counts)[:-1])
        return members, np.arange(len(groups))
    labels = check_array(groups, ensure_2d=False, dtype=None, input_name="groups")
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"groups must be a list of index arrays or masks, or a 1-D array of "
            f"{n_samples} group labels; got shape {labels.shape}."
        )
    names, codes = np.unique(labels, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(names.size + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(names.size)], names


def group_params_shift(expl, members, method):
    """``Δθ_G`` for every group, internal layout (n_groups, K, p̃), and the undefined mask.

    ``first_order``: the members' right-hand sides ``gᵢ ⊗ x̃ᵢ`` are summed per
    group first (one sparse product), so a chunk of groups costs one solve
    with one column per group and output. ``newton``: groups are sorted by
    size and processed in chunks whose right-hand sides (``Σ|G|·K`` columns
    of ``p̃`` numbers, a few copies) fit ``working_memory``: one solve per
    chunk for ``H⁻¹ U_G``, then the capacitance systems of all groups of one
    size are formed and solved together (stacked LAPACK calls, no Python loop
    over groups; see :func:`_capacitance_solve`).
    """
    rule, inverse, design = expl._rule, expl._inverse, expl._design
    K, d = rule.n_outputs, design.n_columns
    n_groups = len(members)
    out = np.empty((n_groups, K, d))
    undefined = np.zeros(n_groups, dtype=bool)
    sizes = np.fromiter((g.size for g in members), dtype=np.intp, count=n_groups)
    budget = get_config()["working_memory"] * 2**20
    if method != "newton":
        # Δθ_G = H⁻¹ Σ_{i∈G} gᵢ ⊗ x̃ᵢ: rows (r × p̃, three copies) bound the chunk.
        budget_rows = max(1, int(budget // (8 * 3 * (K + 1) * d)))
        for chunk in _size_chunks(sizes, budget_rows):
            ids = np.arange(chunk.start, chunk.stop)
            rows = np.concatenate([members[k] for k in ids])
            owner = np.repeat(np.arange(ids.size), sizes[chunk])
            S = sp.csr_matrix(
                (np.ones(rows.size), (owner, np.arange(rows.size))), shape=(ids.size, rows.size)
            )
            Xr = design.dense_rows(rows)  # (r, p̃)
            g = expl._grad[rows]  # (r, K)
            B = np.stack([(S @ (Xr * g[:, k, None])).T for k in range(K)])  # (K, p̃, groups)
            out[chunk] = inverse.solve(B).transpose(2, 0, 1)
        return out, undefined
    budget_cols = max(1, int(budget // (8 * 4 * K * d)))
    order = np.argsort(sizes, kind="stable")
    whiten = _whitener(inverse, K)
    if whiten is not None:
        _newton_shift_whitened(expl, members, sizes, order, whiten, budget_cols, out, undefined)
        return out, undefined
    for chunk in _size_chunks(sizes[order] * K, budget_cols):
        ids = order[chunk]
        rows = np.concatenate([members[k] for k in ids])
        Xr = design.dense_rows(rows)  # (r, p̃)
        r = rows.size
        # columns (row j, output l): e_l ⊗ x̃_j
        E = np.zeros((K, d, r * K))
        for out_k in range(K):
            E[out_k, :, out_k::K] = Xr.T
        V = inverse.solve(E)  # (K, p̃, r·K): H⁻¹ (e_l ⊗ x̃_j)
        g, C = expl._grad[rows], expl._curvature[rows]  # (r, K), (r, K, K)
        chunk_sizes = sizes[ids]
        offset = 0
        for size in np.unique(chunk_sizes):  # contiguous: the groups are sorted by size
            batch = ids[chunk_sizes == size]
            nb, sK = batch.size, size * K
            span = slice(offset, offset + nb * size)
            offset += nb * size
            Xb = Xr[span].reshape(nb, size, d)
            Vb = V[:, :, span.start * K : span.stop * K].reshape(K, d, nb, sK).transpose(2, 0, 1, 3)
            # M[(i,k),(j,l)] = x̃_iᵀ (H⁻¹)_kl x̃_j, for every group of the batch
            M = np.matmul(Xb[:, None], Vb).transpose(0, 2, 1, 3).reshape(nb, sK, sK)
            w, bad = _capacitance_solve(
                M, C[span].reshape(nb, size, K, K), g[span].reshape(nb, sK)
            )
            out[batch] = np.matmul(Vb.reshape(nb, K * d, sK), w[:, :, None]).reshape(nb, K, d)
            out[batch[bad]] = np.nan
            undefined[batch[bad]] = True
    return out, undefined


def _whitener(inverse, K):
    """``B ↦ L⁻¹ D⁻¹ B`` with ``H⁻¹ = D⁻¹ L⁻ᵀ L⁻¹ D⁻¹``, when the solver is one Cholesky factor."""
    solvers = getattr(inverse, "solvers", None)
    if K == 1 and solvers is not None and len(solvers) == 1:
        return getattr(solvers[0], "whiten", None)
    return None


def _newton_shift_whitened(expl, members, sizes, order, whiten, budget_cols, out, undefined):
    """The newton group shift for one output and a Cholesky factor.

    ``M_G = W_Gᵀ W_G`` with ``W = L⁻¹ D⁻¹ X̃_Gᵀ`` (one triangular solve per
    row instead of the two of ``H⁻¹``), the capacitance weights ``γ′`` per
    row, then ``Δθ_G = H⁻¹ Σ_{i∈G} γ′ᵢ x̃ᵢ``: summed per group first, one
    solve with one column per group.
    """
    design, inverse = expl._design, expl._inverse
    d = design.n_columns
    for chunk in _size_chunks(sizes[order], budget_cols):
        ids = order[chunk]
        rows = np.concatenate([members[k] for k in ids])
        Xr = design.dense_rows(rows)  # (r, p̃)
        W = whiten(Xr.T).T  # (r, p̃): rows of W hold L⁻¹ D⁻¹ x̃ᵢ
        g, C = expl._grad[rows, 0], expl._curvature[rows]
        chunk_sizes = sizes[ids]
        weights = np.empty(rows.size)
        offset = 0
        for size in np.unique(chunk_sizes):  # contiguous: the groups are sorted by size
            in_batch = chunk_sizes == size
            nb = int(in_batch.sum())
            span = slice(offset, offset + nb * size)
            offset += nb * size
            Wb = W[span].reshape(nb, size, d)
            M = np.matmul(Wb, Wb.transpose(0, 2, 1))
            w, bad = _capacitance_solve(M, C[span].reshape(nb, size, 1, 1), g[span].reshape(nb, size))
            w[bad] = 0.0
            weights[span] = w.ravel()
            undefined[ids[in_batch][bad]] = True
        owner = np.repeat(np.arange(ids.size), chunk_sizes)
        S = sp.csr_matrix(
            (weights, (owner, np.arange(rows.size))), shape=(ids.size, rows.size)
        )
        out[ids] = inverse.solve((S @ Xr).T[None]).transpose(2, 0, 1)
    out[undefined] = np.nan


def _size_chunks(weights, budget):
    """Slices of consecutive groups whose summed ``weights`` fit ``budget`` (at least one)."""
    ends = np.cumsum(weights)
    start, n = 0, len(weights)
    while start < n:
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + budget, side="right")))
        yield slice(start, stop)
        start = stop


def _capacitance_solve(M, C, g):
    """``(I − C M)⁻¹ γ`` for a stack of groups of one size, and the singular ones.

    ``M`` (b, sK, sK), ``C`` (b, s, K, K) per-row curvature blocks, ``g``
    (b, sK). A system whose smallest singular value is below
    ``CAPACITANCE_TOL`` (relative) is singular to rounding: its weights are
    NaN. With one output and non-negative curvature (every convex loss), the
    system is solved through its symmetric form ``S = I − R M R``
    (``R = C^½``, positive semi-definite since ``H − H_G ⪰ 0``):
    ``(I − C M)⁻¹ γ = γ + R S⁻¹ R M γ``, a stacked Cholesky instead of a
    stacked SVD; ``S`` is singular to rounding when a Cholesky pivot falls
    below ``CAPACITANCE_TOL`` or the factorisation fails, and such stacks
    are decided by the SVD of ``I − C M`` as in the general case.
    """
    b, sK, _ = M.shape
    eye = np.eye(sK)
    if C.shape[2] == 1 and np.all(C >= 0):
        root = np.sqrt(C[:, :, 0, 0])  # (b, s)
        S = eye - root[:, :, None] * M * root[:, None, :]
        S = 0.5 * (S + S.transpose(0, 2, 1))
        try:
            L = np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            pass
        else:
            pivots = np.diagonal(L, axis1=1, axis2=2) ** 2
            bad = pivots.min(axis=1) < CAPACITANCE_TOL
            S[bad] = eye
            Mg = np.matmul(M, g[:, :, None])[:, :, 0]
            w = g + root * np.linalg.solve(S, (root * Mg)[:, :, None])[:, :, 0]
            w[bad] = np.nan
            return w, bad
    A = eye - np.matmul(C, M.reshape(b, sK // C.shape[2], C.shape[2], sK)).reshape(b, sK, sK)
    return solve_or_nan(A, g, CAPACITANCE_TOL)


def relabel_weights(expl, idx, new_labels):
    """Per-row weights ``ŵ`` with ``Δθᵢ = H⁻¹ (ŵᵢ ⊗ x̃ᵢ)`` for relabelling rows ``idx``.

    The edit replaces ``c sᵢ ℓ(yᵢ, zᵢ)`` by ``c sᵢ ℓ(y′ᵢ, zᵢ)``. Class weights
    stay those of the original label (the row's weight in the objective is
    held fixed; only its label changes). Returns the weights (r, K) and the
    mask of rows whose Newton system is singular (NaN weights).
    """
    rule = expl._rule
    Y_new = encode_targets(rule, new_labels, name="new_labels")
    Z = expl._Z[idx]
    scale = (rule.scale * expl._s[idx]) * np.ones((1, rule.n_outputs))
    g_old = expl._grad[idx]
    g_new = scale * rule.loss_gradient(Y_new, Z)
    w = -(g_new - g_old)
    undefined = np.zeros(idx.size, dtype=bool)
    if expl.method == "newton":
        C_new = scale[:, :, None] * rule.curvature_matrix(Y_new, Z)
        dC = C_new - expl._curvature[idx]
        if np.any(dC != 0):
            M = expl._leverage[idx]
            w, undefined = solve_or_nan(np.eye(rule.n_outputs) + dC @ M, w, CAPACITANCE_TOL)
    return w, undefined


def flipped_labels(rule, y_rows):
    """``new_labels=None`` for a binary classifier: the other class."""
    classes = getattr(rule, "classes", None)
    if classes is None or len(classes) != 2:
        raise ValueError(
            "new_labels=None means 'flip the label', which is defined for binary "
            "classifiers only; pass new_labels."
        )
    return np.where(y_rows == classes[0], classes[1], classes[0])


def perturbation_gradients(expl, design_t, Yt, idx):
    """``∂ℓ(z_test_j, θ̂(xᵢ + δ))/∂δ`` at ``δ = 0``, shape (n_test, n_idx, n_features).

    With ``uⱼ = H⁻¹ ∇_θ ℓ_test_j`` (a ``(K, p̃)`` array) and the closed form
    ``∂(∇_θ c sᵢ ℓᵢ)/∂x_f = gᵢ ⊗ e_f + (Cᵢ W[:, f]) ⊗ x̃ᵢ`` (``W`` the
    coefficients, ``Cᵢ`` the curvature, ``gᵢ`` the gradient, both times
    ``c sᵢ``), the implicit function theorem gives
    ``−uⱼ · (gᵢ ⊗ e_f + (Cᵢ W_f) ⊗ x̃ᵢ)``.
    """
    rule, inverse = expl._rule, expl._inverse
    K, p = rule.n_outputs, rule.n_features
    Xt = design_t.dense_rows()
    Zt = Xt @ rule.coef.T
    Rt = rule.loss_gradient(Yt, Zt)  # (m, K)
    U = inverse.solve(np.stack([(Xt * Rt[:, k, None]).T for k in range(K)]))  # (K, p̃, m)
    g = expl._grad[idx]  # (r, K)
    C = expl._curvature[idx]  # (r, K, K)
    Xi = expl._design.dense_rows(idx)  # (r, p̃)
    W = rule.coef[:, :p]  # (K, p)
    term1 = np.einsum("rk,kfm->mrf", g, U[:, :p, :])
    q = np.einsum("rd,kdm->mrk", Xi, U)  # x̃ᵢᵀ u_jk
    B = np.einsum("rkl,lf->rkf", C, W)  # (r, K, p)
    term2 = np.einsum("mrk,rkf->mrf", q, B)
    return -(term1 + term2)


def check_new_labels(new_labels, n_idx):
    if isinstance(new_labels, (numbers.Number, str)):
        return np.full(n_idx, new_labels, dtype=object if isinstance(new_labels, str) else None)
    labels = np.asarray(new_labels)
    if labels.shape[0] != n_idx:
        raise ValueError(
            f"new_labels has {labels.shape[0]} entries but {n_idx} training rows are edited."
        )
    return labels
