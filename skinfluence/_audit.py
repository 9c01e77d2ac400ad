"""``skinfluence audit``: suspicious, harmful and prunable rows of a CSV file.

Reads the file with the standard library (no pandas needed), infers the task
from the target column, imputes missing values when asked, one-hot encodes
text columns and standardises numeric ones in a ``Pipeline``, fits the model
on a training part (stratified for classification) and reports, per training
row: self-influence, leave-one-out loss, leverage, Cook's distance
(regression), the change of the held-out loss when the row is removed, and
whether :class:`InfluencePruner` drops it. The top rows are checked against
real leave-one-out refits (:func:`loo_refit`).

Every problem with the input is an :class:`AuditError` with a one-line
message; the command line prints it and exits with status 2.
"""

import csv
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

from ._loo import loo_refit
from ._solvers import SingularHessianError
from .explainer import InfluenceExplainer
from .pruning import InfluencePruner

#: Cell values read as missing (compared case-insensitively, after stripping).
MISSING = {"", "na", "nan", "null", "none", "n/a", "?"}
MIN_ROWS = 10
#: An integer-valued numeric target with at most this many distinct values is
#: taken as class labels; more distinct values, or any non-integer, as regression.
MAX_CLASSES_INFERRED = 10
IMPUTE_CHOICES = ("none", "median", "most_frequent")
#: Above this many encoded columns LogisticRegression is fitted with lbfgs.
WIDE = 500
#: Held-out rows per call of ``influence`` (bounds the n_test x n_train block).
TEST_BLOCK = 2000
#: Rows checked against refits by default (by self-influence and by held-out harm).
DEFAULT_CHECK = 10

#: Model name -> (estimator factory(C, alpha), the regularisation option it takes).
CLASSIFIERS = {
    "logistic": (lambda C, alpha: LogisticRegression(
        C=C, solver="newton-cholesky", tol=1e-10, max_iter=1000), "C"),
    "linear-svc": (lambda C, alpha: LinearSVC(C=C, tol=1e-8, max_iter=100_000), "C"),
    "ridge": (lambda C, alpha: RidgeClassifier(alpha=alpha), "alpha"),
}
REGRESSORS = {
    "ridge": (lambda C, alpha: Ridge(alpha=alpha), "alpha"),
    "linear": (lambda C, alpha: LinearRegression(), None),
}
#: The bundled demo: breast cancer with this many labels flipped.
DEMO_FLIPS = 20
#: The fraction the demo also prunes, to show what pruning the flipped tail does.
DEMO_CONTAMINATION = 0.04


class AuditError(ValueError):
    """A problem with the audited file or the options, said in one line."""


# ================================================================= reading
@dataclass
class Table:
    """A parsed table: columns by name, one id per row and what the ids are.

    Attributes
    ----------
    name : str
        Dataset name for titles (the file's base name).
    columns : dict of str -> ndarray
        float arrays (NaN = missing) or object arrays of str (NaN = missing).
    ids : ndarray of object
        The row ids shown in every output.
    id_note : str
        What the ids are, said once in every report.
    notes : list of str
        What was done to the input (renamed headers, skipped rows).
    """

    name: str
    columns: dict
    ids: np.ndarray
    id_note: str
    notes: list = field(default_factory=list)

    @property
    def n_rows(self):
        return len(self.ids)

    def take(self, rows):
        return Table(self.name, {k: v[rows] for k, v in self.columns.items()}, self.ids[rows],
                     self.id_note, list(self.notes))


def _read_rows(path):
    """Header, data rows and the file line on which each data row starts."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            sample = f.read(64 * 1024)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(f, dialect)
            rows, lines, previous = [], [], 0
            for row in reader:
                start, previous = previous + 1, reader.line_num
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(start)
    except FileNotFoundError:
        raise AuditError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise AuditError(f"{path}: is a directory, not a CSV file.") from None
    except UnicodeDecodeError:
        raise AuditError(f"{path}: not a UTF-8 text file.") from None
    except csv.Error as exc:
        raise AuditError(f"{path}: not a readable CSV file ({exc}).") from None
    except OSError as exc:
        raise AuditError(f"{path}: cannot read it ({exc.strerror}).") from None
    if not rows:
        raise AuditError(f"{path}: the file is empty.")
    header, data, lines = [c.strip() for c in rows[0]], rows[1:], lines[1:]
    if not data:
        raise AuditError(f"{path}: the file has a header but no data rows.")
    for row, line in zip(data, lines, strict=True):
        if len(row) != len(header):
            raise AuditError(
                f"{path}: line {line} has {len(row)} fields, the header has {len(header)}."
            )
    return header, data, lines


def _check_header(header, path):
    """Name empty header cells, refuse duplicated names; returns (header, notes)."""
    notes = []
    header = list(header)
    for j, name in enumerate(header):
        if not name:
            header[j] = f"unnamed_{j + 1}"
            notes.append(f"column {j + 1} has no name in the header; it is called "
                         f"{header[j]!r} here.")
    seen = {}
    for j, name in enumerate(header):
        seen.setdefault(name, []).append(j + 1)
    dup = {name: cols for name, cols in seen.items() if len(cols) > 1}
    if dup:
        said = "; ".join(f"{name!r} (columns {', '.join(map(str, cols))})"
                         for name, cols in dup.items())
        raise AuditError(f"{path}: duplicate column names: {said}; rename them so that each "
                         "column has its own name.")
    return header, notes


def _parse_column(values):
    """float array (NaN for missing) if every present value is a number, else object."""
    missing = np.array([v.lower() in MISSING for v in values], dtype=bool)
    try:
        numeric = np.array([np.nan if m else float(v) for v, m in zip(values, missing,
                                                                        strict=True)])
    except ValueError:
        out = np.array(values, dtype=object)
        out[missing] = np.nan
        return out, missing
    return numeric, missing


def read_table(path, *, index_col=None, drop=()):
    """Read a CSV file into a :class:`Table`.

    Parameters
    ----------
    path : str
    index_col : str, default=None
        Column whose values are the row ids (must be unique and present);
        removed from the features. Default ids: the file's line numbers
        (1-based; the header is line 1).
    drop : sequence of str
        Columns to ignore.

    Returns
    -------
    table : Table
    """
    header, data, lines = _read_rows(path)
    header, notes = _check_header(header, path)
    for name in [*drop, *([index_col] if index_col is not None else [])]:
        if name not in header:
            option = "--index-col" if name == index_col else "--drop"
            raise AuditError(f"{option}: no column named {name!r}; the columns are: "
                             f"{', '.join(map(repr, header))}.")
    columns = {}
    ids = np.array(lines, dtype=object)
    id_note = f"ids are line numbers of {os.path.basename(path)} (the header is line 1)"
    for j, name in enumerate(header):
        values = [row[j].strip() for row in data]
        if name == index_col:
            if any(v.lower() in MISSING for v in values):
                k = next(i for i, v in enumerate(values) if v.lower() in MISSING)
                raise AuditError(f"--index-col {name!r}: the id on line {lines[k]} is missing.")
            first = {}
            for v, line in zip(values, lines, strict=True):
                if v in first:
                    raise AuditError(f"--index-col {name!r}: the id {v!r} is on lines "
                                     f"{first[v]} and {line}; ids must be unique.")
                first[v] = line
            ids = np.array(values, dtype=object)
            id_note = f"ids are the values of column {name!r}"
            continue
        if name in drop:
            continue
        column, missing = _parse_column(values)
        if column.dtype != object and not np.all(np.isfinite(column[~missing])):
            bad = int(np.flatnonzero(~np.isfinite(column) & ~missing)[0])
            raise AuditError(f"column {name!r} has an infinite value on line {lines[bad]}.")
        columns[name] = column
    name = os.path.splitext(os.path.basename(path))[0]
    return Table(name, columns, ids, id_note, notes)


def demo_table(random_state=0):
    """Breast cancer with ``DEMO_FLIPS`` diagnoses flipped.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the choice of flipped rows.

    Returns
    -------
    table : Table
        Ids are 0-based row numbers of ``load_breast_cancer()``.
    target : str
        ``"diagnosis"``.
    flipped : ndarray of int
        The rows whose diagnosis was flipped.
    """
    data = load_breast_cancer()
    y = np.where(data.target == 1, "benign", "malignant").astype(object)
    rng = np.random.default_rng(random_state)
    flipped = np.sort(rng.choice(len(y), DEMO_FLIPS, replace=False))
    y[flipped] = np.where(y[flipped] == "benign", "malignant", "benign")
    columns = {name: data.data[:, j] for j, name in enumerate(data.feature_names)}
    columns["diagnosis"] = y
    ids = np.arange(len(y)).astype(object)
    table = Table("breast cancer (demo, 20 flipped diagnoses)", columns, ids,
                  "ids are 0-based row numbers of sklearn.datasets.load_breast_cancer()")
    return table, "diagnosis", flipped


# ================================================================ preparing
@dataclass
class Prepared:
    """Features, target and what was inferred about them."""

    X: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    task: str
    task_reason: str
    features: list
    numeric: list
    categorical: list
    notes: list
    warnings: list


def _missing(column):
    if column.dtype == object:
        return np.array([isinstance(v, float) and math.isnan(v) for v in column], dtype=bool)
    return np.isnan(column)


def infer_task(y, target):
    """The task a target column asks for, and why.

    Text labels, or integers with at most ``MAX_CLASSES_INFERRED`` distinct
    values, are classes; other numbers (any non-integer, or many distinct
    integers) are a regression target.

    Parameters
    ----------
    y : ndarray
        The target's values, missing values removed (float or object).
    target : str
        The column's name, for the reason.

    Returns
    -------
    task : {"classification", "regression"}
    reason : str
    """
    if y.dtype == object:
        n = len(set(y))
        return "classification", f"{target!r} holds text ({n} distinct values)"
    distinct = np.unique(y).size
    if np.all(y == np.round(y)):
        if distinct <= MAX_CLASSES_INFERRED:
            return "classification", (f"{target!r} holds {distinct} distinct integers "
                                      f"(at most {MAX_CLASSES_INFERRED} are taken as classes)")
        return "regression", (f"{target!r} holds {distinct} distinct integers (more than "
                              f"{MAX_CLASSES_INFERRED} are taken as a quantity)")
    return "regression", f"{target!r} holds non-integer numbers ({distinct} distinct)"


def _label(v):
    """A label as a plain Python value: 1.0 -> 1 for integer-valued float labels."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return int(v)
    return v.item() if hasattr(v, "item") else v


def prepare(table, target, task=None, impute="none"):
    """Features, target and task of a table, and what was inferred on the way.

    Rows whose target is missing are left out (said in a note). Missing
    feature values are refused unless ``impute`` is ``"median"`` or
    ``"most_frequent"``. Columns that look like ids (a different text or
    integer value in every row) and text columns with more distinct values
    than half the rows are warned about.

    Parameters
    ----------
    table : Table
    target : str
        Name of the target column.
    task : {"classification", "regression"} or None, default=None
        None: inferred by :func:`infer_task`.
    impute : {"none", "median", "most_frequent"}, default="none"

    Returns
    -------
    prepared : Prepared

    Raises
    ------
    AuditError
        With a one-line message naming the problem and, where there is one,
        the option that solves it.
    """
    columns = table.columns
    if target not in columns:
        raise AuditError(
            f"no column named {target!r}; the columns are: {', '.join(map(repr, columns))}."
        )
    notes, warns = list(table.notes), []
    y = columns[target]
    no_target = _missing(y)
    if no_target.any():
        notes.append(f"{int(no_target.sum())} row(s) with a missing {target!r} are left out "
                     f"(e.g. id {table.ids[np.flatnonzero(no_target)[0]]}).")
        table = table.take(~no_target)
        columns, y = table.columns, table.columns[target]
    features = [name for name in columns if name != target]
    if not features:
        raise AuditError(f"the file has no feature columns besides the target {target!r}.")
    n = len(y)
    if n < MIN_ROWS:
        raise AuditError(f"the file has {n} data rows with a target; the audit needs at "
                         f"least {MIN_ROWS}.")
    inferred, reason = infer_task(y, target)
    if task is None:
        task, task_reason = inferred, f"inferred: {reason}; --task overrides"
    else:
        task_reason = f"--task {task} ({reason})"
    if task == "regression":
        if y.dtype == object:
            example = next(v for v in y if _not_a_number(v))
            raise AuditError(
                f"the regression target {target!r} is not numeric (e.g. {example!r}); "
                "use --task classification for labels."
            )
        y = y.astype(float)
    else:
        if y.dtype != object and not np.all(y == np.round(y)):
            raise AuditError(
                f"the target {target!r} has non-integer values (e.g. "
                f"{y[y != np.round(y)][0]!r}); use --task regression."
            )
        if np.unique(y).size < 2:
            raise AuditError(
                f"the target {target!r} has a single class ({_label(y[0])!r}); a classifier "
                "needs at least two."
            )
    missing_cols = []
    for name in features:
        miss = _missing(columns[name])
        if miss.all():
            raise AuditError(f"column {name!r} has no values at all; pass --drop {name}.")
        if miss.any():
            missing_cols.append((name, int(miss.sum()), table.ids[np.flatnonzero(miss)[0]]))
    if missing_cols and impute == "none":
        name, count, first = missing_cols[0]
        more = f" (and {len(missing_cols) - 1} more column(s))" if len(missing_cols) > 1 else ""
        raise AuditError(
            f"column {name!r} has {count} missing value(s) (first at id {first}){more}; pass "
            f"--impute median or --impute most_frequent to fill them, or --drop {name}."
        )
    if missing_cols:
        notes.append("missing values imputed (--impute " + impute + ", with a 0/1 missing-"
                     "indicator column each) in: " + ", ".join(
                         f"{name!r} ({count})" for name, count, _ in missing_cols) + ".")
    for name in features:
        col = columns[name]
        present = col[~_missing(col)]
        distinct = len(set(present.tolist()))
        integer_ids = col.dtype != object and np.all(present == np.round(present))
        if (col.dtype == object or integer_ids) and distinct == n and n >= MIN_ROWS:
            warns.append(f"column {name!r} has a different value in every row (an id or a "
                         f"name?): it is used as a feature; pass --index-col {name} to use it "
                         f"as the row ids, or --drop {name}.")
        elif col.dtype == object and distinct > n / 2:
            warns.append(f"text column {name!r} has {distinct} distinct values in {n} rows: "
                         f"one-hot encoded it adds {distinct - 1} columns; consider --drop "
                         f"{name}.")
    X = np.empty((n, len(features)), dtype=object)
    for j, name in enumerate(features):
        X[:, j] = columns[name]
    numeric = [j for j, name in enumerate(features) if columns[name].dtype != object]
    categorical = [j for j, name in enumerate(features) if columns[name].dtype == object]
    return Prepared(X, y, table.ids, task, task_reason, features, numeric, categorical,
                    notes, warns)


def _not_a_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return True
    return False


def model_choices(task):
    return CLASSIFIERS if task == "classification" else REGRESSORS


def build_model(task, model, numeric, categorical, *, impute="none", C=None, alpha=None,
                class_weight=None):
    """The unfitted pipeline: imputation, encoding and the linear model.

    Numeric columns are (imputed and) standardised, text columns (imputed
    with their most frequent value and) one-hot encoded with the first
    category dropped; unseen categories are encoded as that first one.

    Parameters
    ----------
    task : {"classification", "regression"}
    model : str or None
        A key of ``CLASSIFIERS`` or ``REGRESSORS``; None for the first.
    numeric, categorical : list of int
        Column positions of each kind.
    impute : {"none", "median", "most_frequent"}, default="none"
    C, alpha : float, default=None
        Regularisation; each only for the models that take it.
    class_weight : {"balanced"} or None, default=None
        Classification only: weight each class inversely to its frequency.

    Returns
    -------
    model : str
    pipeline : sklearn.pipeline.Pipeline
    """
    choices = model_choices(task)
    if model is None:
        model = next(iter(choices))
    if model not in choices:
        raise AuditError(
            f"--model {model!r} is not available for {task}; choose from {', '.join(choices)}."
        )
    factory, takes = choices[model]
    for option, value in (("C", C), ("alpha", alpha)):
        if value is None:
            continue
        if takes != option:
            what = f"takes --{takes}" if takes else "has no regularisation option"
            raise AuditError(f"--{option} does not apply to --model {model} ({task}); "
                             f"{model} {what}.")
        if not (math.isfinite(value) and value > 0):
            raise AuditError(f"--{option} must be a positive number, got {value}.")
    estimator = factory(1.0 if C is None else C, 1.0 if alpha is None else alpha)
    if class_weight is not None:
        if task != "classification":
            raise AuditError("--class-weight applies to classification only.")
        estimator.set_params(class_weight=class_weight)
    if impute == "none":
        num = StandardScaler()
        cat = OneHotEncoder(drop="first", handle_unknown="ignore")
    else:
        num = Pipeline([
            ("impute", SimpleImputer(strategy=impute, add_indicator=True)),
            ("scale", StandardScaler()),
        ])
        cat = Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent", add_indicator=True)),
            ("onehot", OneHotEncoder(drop="first", handle_unknown="ignore")),
        ])
    encode = ColumnTransformer(
        [("numeric", num, numeric), ("categorical", cat, categorical)],
        sparse_threshold=0.0,
    )
    return model, Pipeline([("encode", encode), ("model", estimator)])


# ================================================================ progress
class Progress:
    """One stderr line per stage with its duration; silent when disabled."""

    def __init__(self, enabled, stream=None):
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()

    def stage(self, message):
        return _Stage(self, message)


class _Stage:
    def __init__(self, progress, message):
        self.progress, self.message = progress, message

    def __enter__(self):
        self.t0 = time.perf_counter()
        if self.progress.enabled:
            print(f"[skinfluence audit] {self.message} ...", file=self.progress.stream,
                  flush=True)
        return self

    def __exit__(self, kind, value, tb):
        if self.progress.enabled and kind is None:
            took = time.perf_counter() - self.t0
            total = time.perf_counter() - self.progress.start
            print(f"[skinfluence audit] {self.message}: done in {took:.1f} s "
                  f"({total:.1f} s so far)", file=self.progress.stream, flush=True)
        return False


# =================================================================== audit
@dataclass
class AuditOptions:
    """The knobs of :func:`run_audit` (the command line's options)."""

    model: str = None
    C: float = None
    alpha: float = None
    damping: float = 0.0
    impute: str = "none"
    test_size: float = 0.2
    seed: int = 0
    top: int = 20
    check: int = None
    contamination: float = None
    class_weight: str = None
    scoring: str = None


def split_rows(y, task, test_size, seed):
    """Training and held-out row indices, and notes on how they were split.

    For classification the split is stratified; rows of a label with a single
    row always go to the training part, so no label is only held out. When
    too few rows per label remain to stratify, the split is random (said in
    a note) and held-out rows of labels absent from training are later left
    out of scoring.

    Parameters
    ----------
    y : ndarray of shape (n_rows,)
    task : {"classification", "regression"}
    test_size : float in (0, 1)
    seed : int

    Returns
    -------
    train, test : ndarray of int
    notes : list of str
    """
    rows = np.arange(len(y))
    notes = []
    always_train = np.zeros(len(y), dtype=bool)
    stratify = None
    if task == "classification":
        labels, counts = np.unique(y, return_counts=True)
        rare = labels[counts < 2]
        if rare.size:
            always_train = np.isin(y, rare)
            notes.append(f"label(s) with a single row kept in the training part (never held "
                         f"out): {', '.join(repr(_label(v)) for v in rare[:10])}"
                         f"{' ...' if rare.size > 10 else ''}.")
        stratify = y[~always_train]
    rest = rows[~always_train]
    try:
        tr, te = train_test_split(rest, test_size=test_size, random_state=seed,
                                  stratify=stratify)
    except ValueError:
        try:
            tr, te = train_test_split(rest, test_size=test_size, random_state=seed)
        except ValueError as exc:
            raise AuditError(f"cannot split {rest.size} rows with --test-size {test_size}: "
                             f"{exc}") from None
        if stratify is not None:
            notes.append("too few rows per label to stratify the split; split at random.")
    tr = np.sort(np.concatenate([tr, rows[always_train]]))
    return tr, np.sort(te), notes


def _heldout_known(y_test, y_train, task, ids_test):
    """Mask of held-out rows whose label the model knows, and a note on the others."""
    if task != "classification":
        return np.ones(len(y_test), dtype=bool), None
    known = np.isin(y_test, np.unique(y_train))
    if known.all():
        return known, None
    unknown = sorted({repr(_label(v)) for v in y_test[~known]})
    return known, (f"{int((~known).sum())} held-out row(s) left out of scoring: label(s) "
                   f"{', '.join(unknown)} never occur in the training part (e.g. id "
                   f"{ids_test[np.flatnonzero(~known)[0]]}).")


def _one_line(exc):
    return " ".join(str(exc).split())


def _pearson_slope(estimate, truth):
    """Pearson R and least-squares slope of ``estimate`` on ``truth`` (NaN if undefined)."""
    ok = np.isfinite(estimate) & np.isfinite(truth)
    e, t = estimate[ok], truth[ok]
    if e.size < 3 or np.ptp(t) == 0 or np.ptp(e) == 0:
        return float("nan"), float("nan")
    r = float(np.corrcoef(e, t)[0, 1])
    tc = t - t.mean()
    slope = float(tc @ (e - e.mean()) / (tc @ tc))
    return r, slope


def classical_diagnostics(expl):
    """Cook's distance and studentized residuals where defined, from ``summary_frame``.

    Least squares and logistic models have them (the definitions of R and
    statsmodels, see :func:`skinfluence.summary_frame`); other models, and
    an environment without pandas, get NaN and a note.

    Returns
    -------
    cooks, student : ndarray of shape (n_train,)
    residual_name : str or None
    note : str or None
    """
    n = expl.n_train_
    nan = np.full(n, np.nan)
    try:
        from .diagnostics import summary_frame

        with np.errstate(invalid="ignore", divide="ignore"):  # rows of leverage 1: NaN
            frame = summary_frame(expl, dfbetas=False)
    except ImportError:
        return nan, nan, None, "Cook's distance needs pandas (pip install pandas); not computed."
    if "cooks_distance" not in frame:
        return nan, nan, None, None
    if "student_resid_external" in frame:
        student, name = frame["student_resid_external"], "studentized residual (external)"
    else:
        student, name = frame["student_resid"], "studentized Pearson residual"
    return (frame["cooks_distance"].to_numpy(dtype=float), student.to_numpy(dtype=float),
            name, None)


def run_audit(data, options, *, test=None, progress=None):
    """Fit, explain, prune and check; returns a dict (JSON-ready but for ``"_arrays"``).

    Parameters
    ----------
    data : Prepared
        The training table (split into training and held-out parts unless
        ``test`` is given).
    options : AuditOptions
    test : Prepared, default=None
        A separate held-out table with the same columns.
    progress : Progress, default=None

    Returns
    -------
    report : dict
    """
    progress = Progress(False) if progress is None else progress
    task = data.task
    notes = list(data.notes)
    model_name, pipe = build_model(task, options.model, data.numeric, data.categorical,
                                   impute=options.impute, C=options.C, alpha=options.alpha,
                                   class_weight=options.class_weight)
    if test is None:
        tr, te, split_notes = split_rows(data.y, task, options.test_size, options.seed)
        notes += split_notes
        X_tr, y_tr, ids_tr = data.X[tr], data.y[tr], data.ids[tr]
        X_te, y_te, ids_te = data.X[te], data.y[te], data.ids[te]
        split = (f"random {'stratified ' if task == 'classification' else ''}split "
                 f"(--test-size {options.test_size}, --seed {options.seed})")
    else:
        X_tr, y_tr, ids_tr = data.X, data.y, data.ids
        X_te, y_te, ids_te = test.X, test.y, test.ids
        notes += [f"held-out file: {n}" for n in test.notes]
        split = "the --test file"
    if task == "classification" and np.unique(y_tr).size < 2:
        raise AuditError("the training part has a single class; use a smaller --test-size.")
    known, note = _heldout_known(y_te, y_tr, task, ids_te)
    if note:
        notes.append(note)
    X_sc, y_sc = X_te[known], y_te[known]
    if y_sc.size == 0:
        raise AuditError("no held-out row can be scored; use a larger --test-size or "
                         "another --test file.")
    method = "newton"
    try:
        with progress.stage(f"fitting {model_name} on {len(y_tr)} rows"):
            width = clone(pipe[:-1]).fit(X_tr, y_tr).transform(X_tr[:1]).shape[1]
            if model_name == "logistic" and width > WIDE:
                # newton-cholesky factorises a width x width Hessian per iteration;
                # lbfgs gets close cheaply and the explainer polishes (refine="auto").
                pipe.set_params(model__solver="lbfgs", model__tol=1e-8, model__max_iter=10_000)
            pipe.fit(X_tr, y_tr)
        with progress.stage("explaining (Hessian, self-influence, leverage)"):
            expl = InfluenceExplainer(method=method, damping=options.damping,
                                      verbose=int(progress.enabled)).fit(pipe, X_tr, y_tr)
            self_influence = expl.self_influence()
            loss = expl.training_loss()
            leverage = expl.leverage()
            if leverage.ndim == 2:
                notes.append(f"the model has {leverage.shape[1]} one-vs-rest outputs; the "
                             "leverage shown is each row's largest over them.")
                leverage = leverage.max(axis=1)
            cooks, student, residual_name, note = classical_diagnostics(expl)
            if note:
                notes.append(note)
        with progress.stage(f"influence of every training row on {len(y_sc)} held-out rows"):
            change = np.zeros(len(y_tr))  # Σ_test (ℓ(θ̂₋ᵢ) − ℓ(θ̂)), by blocks of test rows
            for start in range(0, len(y_sc), TEST_BLOCK):
                block = slice(start, start + TEST_BLOCK)
                change += expl.influence(X_sc[block], y_sc[block]).sum(axis=0)
        scoring = options.scoring or ("accuracy" if task == "classification" else "r2")
        with progress.stage(f"held-out {scoring} without each training row"):
            try:
                metric_change = expl.metric_influence(X_sc, y_sc, scoring=scoring)
            except ValueError as exc:
                raise AuditError(f"--scoring {scoring}: {_one_line(exc)}") from None
        with progress.stage("pruning (InfluencePruner)"):
            pruner = InfluencePruner(clone(pipe), method=method, damping=options.damping,
                                     contamination=options.contamination)
            pruner.fit(X_tr, y_tr)
    except SingularHessianError as exc:
        msg = _one_line(exc)
        hint = "" if options.damping > 0 else (
            "; pass --damping (e.g. --damping 1e-6)"
            + (" or use --model ridge" if model_name == "linear" else ""))
        raise AuditError(f"{msg}{hint}") from None
    test_score = float(pipe.score(X_sc, y_sc))
    predicted = pipe.predict(X_tr)
    dropped = ~pruner.support_
    after = None
    if dropped.any() and (task == "regression" or np.unique(y_tr[~dropped]).size >= 2):
        with progress.stage(f"refitting without the {int(dropped.sum())} dropped row(s)"):
            refit = clone(pipe).fit(X_tr[~dropped], y_tr[~dropped])
            after = float(refit.score(X_sc, y_sc))

    # ---------------------------------------------- agreement with real refits
    agreement = None
    check = options.check
    if check is None:  # default: 10 rows, unless every refit is a large problem
        check = DEFAULT_CHECK if width <= WIDE else 0
        if check == 0:
            notes.append(f"not checked against refits by default: the model has {width} "
                         "encoded columns and each leave-one-out refit is a problem of that "
                         "size; pass --check N to refit the top N rows.")
    if check > 0:
        finite = np.where(np.isfinite(self_influence), self_influence, -np.inf)
        top_self = np.argsort(-finite, kind="stable")[:check]
        top_harm = np.argsort(np.where(np.isfinite(change), change, np.inf),
                              kind="stable")[:check]
        rows = np.unique(np.concatenate([top_self, top_harm]))
        rows = rows[np.isfinite(self_influence[rows]) & np.isfinite(change[rows])]
        if task == "classification":
            # the only row of a label cannot be refitted without: its class would vanish
            labels, counts = np.unique(y_tr, return_counts=True)
            alone = np.isin(y_tr[rows], labels[counts == 1])
            if alone.any():
                notes.append(f"{int(alone.sum())} checked row(s) are the only row of their "
                             "label; a refit without them has one class fewer, so they are "
                             "not refitted: ids " + ", ".join(
                                 str(_plain(ids_tr[i])) for i in rows[alone][:10]) + ".")
                rows = rows[~alone]
        if rows.size:
            with progress.stage(f"checking {rows.size} rows against real leave-one-out "
                                "refits"):
                truth = loo_refit(pipe, X_tr, y_tr, X_sc, y_sc, indices=rows,
                                  verbose=10 if progress.enabled else 0)
            true_change = truth.influence.sum(axis=0)
            if options.damping > 0:
                notes.append(f"the refits are of the model itself; --damping "
                             f"{options.damping:g} shifts the estimates away from them.")
            r_self, s_self = _pearson_slope(self_influence[rows], truth.self_influence)
            r_held, s_held = _pearson_slope(change[rows], true_change)
            agreement = {
                "n_rows": int(rows.size),
                "rows": "the top --check rows by self-influence and by held-out harm",
                "self_influence": {"pearson_r": r_self, "slope": s_self,
                                   "max_abs_error": float(np.max(np.abs(
                                       self_influence[rows] - truth.self_influence)))},
                "heldout_loss_change": {"pearson_r": r_held, "slope": s_held,
                                        "max_abs_error": float(np.max(np.abs(
                                            change[rows] - true_change)))},
                "_points": {"ids": ids_tr[rows],
                            "self": (self_influence[rows], truth.self_influence),
                            "heldout": (change[rows], true_change)},
            }

    # ------------------------------------------------------------ the tables
    def record(i, **extra):
        return {"id": _plain(ids_tr[i]), "label": _label(y_tr[i]),
                "predicted": _label(predicted[i]), **extra}

    finite_self = np.isfinite(self_influence)
    order = np.argsort(np.where(finite_self, -self_influence, np.inf), kind="stable")
    order = order[finite_self[order]][:options.top]
    harm_order = np.argsort(np.where(np.isfinite(change), change, np.inf), kind="stable")
    harm_order = harm_order[np.isfinite(change[harm_order]) & (change[harm_order] < 0)]
    harm_order = harm_order[:options.top]
    finite_metric = np.isfinite(metric_change)
    metric_order = np.argsort(np.where(finite_metric, -metric_change, np.inf), kind="stable")
    metric_order = metric_order[finite_metric[metric_order] & (metric_change[metric_order] > 0)]
    metric_order = metric_order[:options.top]
    undefined = np.flatnonzero(~finite_self)
    if undefined.size:
        notes.append(f"{undefined.size} row(s) have no self-influence (removing one leaves a "
                     f"parameter undetermined, leverage 1): ids "
                     f"{', '.join(str(_plain(ids_tr[i])) for i in undefined[:10])}"
                     f"{' ...' if undefined.size > 10 else ''}; they are not ranked "
                     "(--damping or a penalised model, e.g. --model ridge, defines them).")
    score_name = "accuracy" if task == "classification" else "R^2"
    report = {
        "source": None,
        "dataset": None,
        "task": task,
        "task_reason": data.task_reason,
        "model": model_name,
        "estimator": repr(pipe[-1]),
        "method": method,
        "damping": options.damping,
        "impute": options.impute,
        "features": list(data.features),
        "n_features_encoded": int(pipe[:-1].transform(X_tr[:1]).shape[1]),
        "n_rows": int(len(data.y) + (0 if test is None else len(test.y))),
        "n_train": int(len(y_tr)),
        "n_test": int(len(y_te)),
        "n_test_scored": int(len(y_sc)),
        "split": split,
        "score_name": score_name,
        "test_score": test_score,
        "test_score_after_pruning": after,
        "stationarity": float(expl.stationarity_),
        "suspicious": [record(i, self_influence=float(self_influence[i]),
                              loss=float(loss[i]),
                              loo_loss=float(loss[i] + self_influence[i]),
                              leverage=float(leverage[i])) for i in order],
        "harmful": [record(i, heldout_loss_change_if_removed=float(change[i]),
                           self_influence=float(self_influence[i])) for i in harm_order],
        "scoring": scoring,
        "metric_harmful": [record(i, heldout_metric_change_if_removed=float(metric_change[i]))
                           for i in metric_order],
        "pruned": [record(i, self_influence=float(self_influence[i]),
                          pruning_score=float(pruner.scores_[i]))
                   for i in np.flatnonzero(dropped)[np.argsort(-pruner.scores_[dropped],
                                                               kind="stable")]],
        "prune_rule": ("the automatic threshold (the valley between the bulk of the "
                       "self-influence scores and a separate high mode)"
                       if options.contamination is None
                       else f"--contamination {options.contamination:g} (the highest "
                            f"{options.contamination:.1%} of the self-influence scores)"),
        "prune_auto": options.contamination is None,
        # False when a rule beyond the threshold (InfluencePruner's per-class cap, its
        # one-row-per-class rule) kept rows that score above it
        "prune_by_threshold_only": bool(
            not dropped.any() or not np.any(
                ~dropped & (pruner.scores_ >= pruner.threshold_)
                & np.isfinite(pruner.scores_))),
        "top": options.top,
        "prune_threshold": (None if math.isinf(pruner.threshold_)
                            else float(pruner.threshold_)),
        "held_out_ids": [_plain(v) for v in ids_te],
        "agreement": agreement,
        "notes": notes,
        "warnings": list(data.warnings),
        "_arrays": {
            "ids": ids_tr, "label": y_tr, "predicted": predicted, "loss": loss,
            "self_influence": self_influence, "leverage": leverage, "cooks": cooks,
            "student": student, "residual_name": residual_name,
            "change": change, "metric_change": metric_change, "dropped": dropped, "pruning_score": pruner.scores_,
            "threshold": pruner.threshold_, "ids_test": ids_te, "label_test": y_te,
        },
    }
    return report


def _plain(v):
    return v.item() if hasattr(v, "item") else v


# ================================================================== output
def _table(headers, rows):
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in cells)) if cells else len(h)
              for k, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join("  " + line for line in lines)


def _fmt(v):
    if isinstance(v, float):
        if math.isnan(v):
            return "n/a"
        return f"{v:.4g}"
    return str(v)


#: Column headers and the sign conventions, shared by the text and HTML reports.
SUSPICIOUS_TITLE = ("Most suspicious training rows, by self-influence = (the row's loss when "
                    "the model is refitted without it) - (its loss in the model); >= 0, large "
                    "= outlier or wrong label")
HARMFUL_TITLE = ("Training rows whose removal most lowers the held-out loss: change = (summed "
                 "held-out loss without the row) - (with it); negative = the row harms the "
                 "held-out rows")
METRIC_TITLE = ("Training rows whose removal most raises the held-out {scoring} (--scoring): "
                "change = ({scoring} without the row) - (with it), evaluated exactly at the "
                "shifted predictions; positive = the row costs {scoring}")
SUSPICIOUS_HEADERS = ["id", "self-influence", "loss", "loss if left out", "leverage", "label",
                      "predicted"]
HARMFUL_HEADERS = ["id", "held-out loss change", "self-influence", "label", "predicted"]
PRUNED_HEADERS = ["id", "pruning score", "label", "predicted"]


def table_rows(report, flipped=None):
    """Rows of the three tables (headers, rows), with a "flipped" column in the demo."""
    def mark(headers, rows, records):
        if flipped is None:
            return headers, rows
        return headers + ["flipped"], [r + ["yes" if rec["id"] in flipped else ""]
                                       for r, rec in zip(rows, records, strict=True)]

    s, h, p = report["suspicious"], report["harmful"], report["pruned"]
    return {
        "suspicious": mark(SUSPICIOUS_HEADERS, [
            [r["id"], r["self_influence"], r["loss"], r["loo_loss"], r["leverage"],
             r["label"], r["predicted"]] for r in s], s),
        "harmful": mark(HARMFUL_HEADERS, [
            [r["id"], r["heldout_loss_change_if_removed"], r["self_influence"], r["label"],
             r["predicted"]] for r in h], h),
        "pruned": mark(PRUNED_HEADERS, [
            [r["id"], r["pruning_score"], r["label"], r["predicted"]] for r in p], p),
    }


def summary_lines(report):
    """What was read, inferred and fitted: one sentence per line."""
    out = [
        f"skinfluence audit of {report['source']}: {report['n_rows']} rows.",
        f"Task: {report['task']} ({report['task_reason']}).",
        f"Model: {report['estimator']} on {len(report['features'])} column(s) "
        f"({report['n_features_encoded']} after encoding); method={report['method']}, "
        f"damping={report['damping']:g}, --impute {report['impute']}.",
        f"Trained on {report['n_train']} rows, held out {report['n_test']} "
        f"({report['split']}); held-out {report['score_name']} {report['test_score']:.3f}.",
        f"Row ids: {report['id_note']}.",
    ]
    out += [f"Note: {n}" for n in report["notes"]]
    return out


def prune_lines(report, flipped=None):
    """What InfluencePruner would drop, and why nothing when nothing."""
    n = len(report["pruned"])
    if n:
        relation = "above" if report["prune_auto"] else "at or above"
        line = (f"InfluencePruner would drop {n} of the {report['n_train']} training rows by "
                f"{report['prune_rule']}: self-influence {relation} "
                f"{report['prune_threshold']:.4g}")
        if not report["prune_by_threshold_only"]:
            line += (" (some rows above it are kept by the pruner's per-class rules: see its "
                     "warning)")
        if report["test_score_after_pruning"] is not None:
            line += (f"; refitted without them, held-out {report['score_name']} "
                     f"{report['test_score']:.3f} -> {report['test_score_after_pruning']:.3f}")
        out = [line + "."]
        if flipped is not None:
            hit = sum(r["id"] in flipped for r in report["pruned"])
            out.append(f"{hit} of the {n} dropped rows are flipped labels.")
        return out
    out = [f"InfluencePruner would drop no row by {report['prune_rule']}: the scores have no "
           "separate high mode, so no row stands apart from the rest."]
    showcase = report.get("showcase")
    if showcase:
        line = (f"The flipped labels form a long tail, not a separate group: rank and inspect "
                f"them (the first table), or choose a fraction to drop. With --contamination "
                f"{showcase['contamination']:g} the pruner would drop {showcase['n_dropped']} "
                f"rows, {showcase['n_flipped']} of them flipped labels")
        if showcase["test_score_after_pruning"] is not None:
            line += (f"; refitted without them, held-out {report['score_name']} "
                     f"{report['test_score']:.3f} -> {showcase['test_score_after_pruning']:.3f}")
        out.append(line + ".")
    return out


def agreement_lines(report):
    a = report["agreement"]
    if a is None:
        return ["Not checked against leave-one-out refits (--check 0, or see the notes)."]
    si, hc = a["self_influence"], a["heldout_loss_change"]
    return [
        f"Checked against {a['n_rows']} real leave-one-out refits ({a['rows']}): "
        f"self-influence Pearson R {si['pearson_r']:.4f}, slope {si['slope']:.3f}; "
        f"held-out loss change Pearson R {hc['pearson_r']:.4f}, slope {hc['slope']:.3f} "
        "(slope of estimate on refit; 1 = same scale)."
    ]


def format_report(report, flipped=None):
    """The text report.

    Parameters
    ----------
    report : dict
        From :func:`run_audit`, completed by :func:`audit_main`.
    flipped : set, default=None
        The demo's flipped ids (adds a "flipped" column).

    Returns
    -------
    text : str
    """
    tables = table_rows(report, flipped)
    out = summary_lines(report) + ["", SUSPICIOUS_TITLE + ":", _table(*tables["suspicious"])]
    if flipped is not None:
        found = sum(s["id"] in flipped for s in report["suspicious"])
        n_flip = len(report["flipped_in_train"])
        out.append(f"{found} of the {n_flip} training rows whose diagnosis the demo flipped are "
                   f"in this top {len(report['suspicious'])} (random rows would hold about "
                   f"{len(report['suspicious']) * n_flip / report['n_train']:.1f}).")
    out += ["", HARMFUL_TITLE + f" ({report['n_test_scored']} rows):"]
    if report["harmful"]:
        out.append(_table(*tables["harmful"]))
    else:
        out.append("  none: removing any single row would raise the held-out loss.")
    out += ["", METRIC_TITLE.format(scoring=report["scoring"]) + ":"]
    if report["metric_harmful"]:
        out.append(_table(
            ["id", f"held-out {report['scoring']} change", "label", "predicted"],
            [[m["id"], m["heldout_metric_change_if_removed"], m["label"], m["predicted"]]
             for m in report["metric_harmful"]],
        ))
    else:
        out.append(f"  none: removing any single row would not raise the held-out "
                   f"{report['scoring']}.")
    out += [""] + prune_lines(report, flipped)
    if report["pruned"]:
        headers, rows = tables["pruned"]
        out.append(_table(headers, rows[:report["top"]]))
        if len(rows) > report["top"]:
            out.append(f"  ... and {len(rows) - report['top']} more (--top {report['top']}; "
                       "every row is in scores.csv with its status).")
    out += [""] + agreement_lines(report)
    return "\n".join(out)


SCORE_COLUMNS = ["id", "part", "label", "predicted", "loss", "self_influence", "loo_loss",
                 "leverage", "cooks_distance", "heldout_loss_change_if_removed",
                 "heldout_metric_change_if_removed", "pruning_score", "status"]


def write_scores_csv(report, path):
    """One line per row of the input: every score of the training rows.

    Columns: ``SCORE_COLUMNS``. Held-out rows have their label and
    ``status = held out`` and no scores; a score that is undefined for a row
    (Cook's distance of a hinge-loss model, a row of leverage 1) is empty.

    Parameters
    ----------
    report : dict
    path : str

    Returns
    -------
    path : str
    """
    a = report["_arrays"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(SCORE_COLUMNS)
        for i in range(len(a["ids"])):
            w.writerow([
                _plain(a["ids"][i]), "train", _label(a["label"][i]), _label(a["predicted"][i]),
                *(_csv_num(a[k][i]) for k in ("loss",)),
                _csv_num(a["self_influence"][i]), _csv_num(a["loss"][i] + a["self_influence"][i]),
                _csv_num(a["leverage"][i]), _csv_num(a["cooks"][i]), _csv_num(a["change"][i]),
                _csv_num(a["metric_change"][i]),
                _csv_num(a["pruning_score"][i]), "dropped" if a["dropped"][i] else "kept",
            ])
        for v, lab in zip(a["ids_test"], a["label_test"], strict=True):
            w.writerow([_plain(v), "held out", _label(lab), "", "", "", "", "", "", "", "", "",
                        "held out"])
    return path


def _csv_num(v):
    v = float(v)
    return "" if math.isnan(v) else repr(v)


def _json_ready(report):
    out = {k: v for k, v in report.items() if not k.startswith("_")}
    if out.get("agreement"):
        out["agreement"] = {k: v for k, v in out["agreement"].items() if not k.startswith("_")}
    return out


# ==================================================================== main
def _check_outputs(args):
    """Refuse output paths that cannot be written before any work is done."""
    if args.html:
        parent = os.path.dirname(os.path.abspath(args.html))
        if os.path.isdir(args.html):
            raise AuditError(f"--html {args.html}: is a directory; give a file name.")
        if not os.path.isdir(parent):
            raise AuditError(f"--html {args.html}: the directory {parent} does not exist.")
    if args.out and not args.no_out and os.path.exists(args.out) \
            and not os.path.isdir(args.out):
        raise AuditError(f"--out {args.out}: exists and is not a directory.")


def audit_main(args, stdout, stderr=None):
    """Run ``skinfluence audit`` for parsed command-line arguments.

    Parameters
    ----------
    args : argparse.Namespace
        From ``skinfluence.__main__.build_parser``.
    stdout, stderr : file-like
        Where the report, and the warnings and progress, go.

    Returns
    -------
    status : int
        0.

    Raises
    ------
    AuditError
        For any problem with the input or the options (one line).
    """
    stderr = sys.stderr if stderr is None else stderr
    if not 0 < args.test_size < 1:
        raise AuditError(f"--test-size must be between 0 and 1, got {args.test_size}.")
    if args.top < 1:
        raise AuditError(f"--top must be at least 1, got {args.top}.")
    if args.check is not None and args.check < 0:
        raise AuditError(f"--check must be 0 or more, got {args.check}.")
    if not (math.isfinite(args.damping) and args.damping >= 0):
        raise AuditError(f"--damping must be a finite number >= 0, got {args.damping}.")
    if args.contamination is not None and not 0 < args.contamination <= 0.5:
        raise AuditError(f"--contamination must be in (0, 0.5], got {args.contamination}.")
    if args.quiet and args.progress:
        raise AuditError("--quiet and --progress contradict each other; pass one.")
    _check_outputs(args)
    show_progress = args.progress or (not args.quiet and stderr.isatty())
    progress = Progress(show_progress, stderr)
    flipped = None
    drop = list(args.drop or [])
    if args.file is None:
        if args.test is not None or args.index_col is not None or drop:
            raise AuditError("--test, --index-col and --drop need a file.")
        table, target, flipped = demo_table()
        if args.target not in (None, target):
            raise AuditError("--target cannot be used without a file.")
        source = (f"the bundled demo (scikit-learn's breast cancer data with {DEMO_FLIPS} "
                  "diagnoses deliberately flipped)")
    else:
        if args.target is None:
            raise AuditError("--target COL is required with a file.")
        target, source = args.target, args.file
        if target in drop or target == args.index_col:
            raise AuditError(f"the target {target!r} cannot also be dropped or the index "
                             "column.")
        with progress.stage(f"reading {args.file}"):
            table = read_table(args.file, index_col=args.index_col, drop=drop)
    options = AuditOptions(model=args.model, C=args.C, alpha=args.alpha, damping=args.damping,
                           impute=args.impute, test_size=args.test_size, seed=args.seed,
                           top=args.top, check=args.check, contamination=args.contamination,
                           class_weight=None if args.class_weight == "none" else args.class_weight,
                           scoring=args.scoring)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = prepare(table, target, args.task, args.impute)
        test = None
        if args.test is not None:
            test_table = read_table(args.test, index_col=args.index_col, drop=drop)
            missing = [c for c in table.columns if c not in test_table.columns]
            extra = [c for c in test_table.columns if c not in table.columns]
            if missing or extra:
                said = "; ".join(s for s in (
                    f"missing {', '.join(map(repr, missing))}" if missing else "",
                    f"extra {', '.join(map(repr, extra))}" if extra else "") if s)
                raise AuditError(f"--test {args.test}: its columns differ from the training "
                                 f"file's ({said}).")
            test_table.columns = {c: test_table.columns[c] for c in table.columns}
            test = _prepare_test(test_table, data, target, args.impute)
        report = run_audit(data, options, test=test, progress=progress)
    # Warnings are said once the audit succeeded: a failure is one line only.
    shown = set()
    for w in data.warnings:
        print(f"skinfluence audit: warning: {w}", file=stderr)
    for w in caught:
        text = _one_line(w.message)
        if "leverage 1 to rounding" in text and undefined_said(report):
            continue  # said in a note, with the user's ids
        if 'class_weight="balanced"' in text:
            text = text.replace('class_weight="balanced" in the estimator',
                                "--class-weight balanced").replace(
                " (or max_class_fraction=1.0 to lift the cap)", "")
        if "Found unknown categories" in text:
            text = ("some held-out rows have categories never seen in training; they are "
                    "encoded as the baseline category.")
        if text not in shown:
            shown.add(text)
            print(f"skinfluence audit: warning: {text}", file=stderr)
    if flipped is not None and args.contamination is None:
        # The demo's flips form a tail, not a mode: show what a chosen fraction does.
        with progress.stage("the demo: pruning with --contamination"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other = run_audit(data, replace(options, contamination=DEMO_CONTAMINATION,
                                            check=0), test=test)
        dropped = {r["id"] for r in other["pruned"]}
        report["showcase"] = {
            "contamination": DEMO_CONTAMINATION, "n_dropped": len(dropped),
            "n_flipped": len(dropped & {int(r) for r in flipped}),
            "test_score_after_pruning": other["test_score_after_pruning"],
        }
    report["source"] = source
    report["dataset"] = table.name
    report["id_note"] = table.id_note
    if flipped is not None:
        held_out = set(report["held_out_ids"])
        report["flipped"] = [int(r) for r in flipped]
        report["flipped_in_train"] = [int(r) for r in flipped if int(r) not in held_out]
        flipped = set(report["flipped"])
    files = []
    write_out = bool(args.out) and not args.no_out
    want_pictures = (write_out and not args.no_plot) or args.html
    figures = {}
    if want_pictures:
        from ._report import make_figures

        with progress.stage("drawing the pictures"):
            figures = make_figures(report, flipped)
    if write_out:
        os.makedirs(args.out, exist_ok=True)
        files.append(write_scores_csv(report, os.path.join(args.out, "scores.csv")))
        if not args.no_plot:
            for name, png in figures.items():
                path = os.path.join(args.out, f"{name}.png")
                with open(path, "wb") as f:
                    f.write(png)
                files.append(path)
    if args.html:
        from ._report import write_html

        files.append(write_html(report, args.html, figures, flipped))
    report["files"] = files
    if args.json:
        json.dump(_json_ready(report), stdout, indent=2, default=_plain)
        stdout.write("\n")
    else:
        stdout.write(format_report(report, flipped) + "\n")
        if files:
            stdout.write(f"\nWrote: {', '.join(files)}\n")
    return 0


def undefined_said(report):
    return any("have no self-influence" in n for n in report["notes"])


def _prepare_test(table, data, target, impute):
    """The --test table as a Prepared with the training table's task and columns."""
    y = table.columns[target]
    keep = ~_missing(y)
    table = table.take(keep)
    notes = [] if keep.all() else [f"{int((~keep).sum())} row(s) without a target left out."]
    y = table.columns[target]
    if data.task == "regression":
        if y.dtype == object:
            raise AuditError(f"--test: the target {target!r} is not numeric there.")
        y = y.astype(float)
    elif y.dtype != data.y.dtype:
        # labels read as numbers in one file and text in the other: compare as text
        y = np.array([str(_label(v)) for v in y], dtype=object)
        data.y = np.array([str(_label(v)) for v in data.y], dtype=object)
    X = np.empty((len(y), len(data.features)), dtype=object)
    for j, name in enumerate(data.features):
        col = table.columns[name]
        if (col.dtype == object) != (j in data.categorical):
            kind = "text" if j in data.categorical else "numbers"
            raise AuditError(f"--test: column {name!r} holds {kind} in the training file but "
                             "not in the test file.")
        if impute == "none" and _missing(col).any():
            raise AuditError(f"--test: column {name!r} has missing values; pass --impute "
                             f"median or --impute most_frequent, or --drop {name}.")
        X[:, j] = col
    return Prepared(X, y, table.ids, data.task, data.task_reason, data.features, data.numeric,
                    data.categorical, notes, [])
