"""``skinfluence audit``: suspicious, harmful and prunable rows of a CSV file.

Reads the file with the standard library (no pandas needed), one-hot encodes
non-numeric columns and standardises numeric ones in a Pipeline, fits the
model on a training split, and reports with :class:`InfluenceExplainer` and
:class:`InfluencePruner`. Every problem with the input is an
:class:`AuditError` with a one-line message; the command line prints it and
exits with status 2.
"""

import csv
import json
import math
import os
import warnings

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
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
from sklearn.utils.multiclass import type_of_target

from .explainer import InfluenceExplainer
from .pruning import InfluencePruner

MISSING = {"", "na", "nan", "null", "none", "n/a", "?"}
MIN_ROWS = 10

CLASSIFIERS = {
    "logistic": lambda: LogisticRegression(solver="newton-cholesky", tol=1e-10, max_iter=1000),
    "linear-svc": lambda: LinearSVC(tol=1e-8, max_iter=100_000),
    "ridge": lambda: RidgeClassifier(alpha=1.0),
}
REGRESSORS = {
    "ridge": lambda: Ridge(alpha=1.0),
    "linear": LinearRegression,
}
#: The bundled demo: breast cancer with this many training labels flipped.
DEMO_FLIPS = 20


class AuditError(ValueError):
    """A problem with the audited file or the options, said in one line."""


# ------------------------------------------------------------------ reading
def read_csv(path):
    """Header and rows of a CSV file as strings; rejects empty and ragged files."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            sample = f.read(64 * 1024)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
            except csv.Error:
                dialect = csv.excel
            rows = [row for row in csv.reader(f, dialect) if any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise AuditError(f"{path}: no such file.") from None
    except UnicodeDecodeError:
        raise AuditError(f"{path}: not a UTF-8 text file.") from None
    except OSError as exc:
        raise AuditError(f"{path}: cannot read it ({exc.strerror}).") from None
    if not rows:
        raise AuditError(f"{path}: the file is empty.")
    header, data = [c.strip() for c in rows[0]], rows[1:]
    if not data:
        raise AuditError(f"{path}: the file has a header but no data rows.")
    for i, row in enumerate(data):
        if len(row) != len(header):
            raise AuditError(
                f"{path}: line {i + 2} has {len(row)} fields, the header has {len(header)}."
            )
    return header, data


def parse_columns(header, data):
    """Each column as float (all values numeric) or str; missing values rejected."""
    columns = {}
    for j, name in enumerate(header):
        values = [row[j].strip() for row in data]
        missing = [i for i, v in enumerate(values) if v.lower() in MISSING]
        if missing:
            raise AuditError(
                f"column {name!r} has {len(missing)} missing value(s) (first on line "
                f"{missing[0] + 2}); impute or drop them before auditing."
            )
        try:
            numeric = np.array([float(v) for v in values])
        except ValueError:
            columns[name] = np.array(values, dtype=object)
            continue
        if not np.all(np.isfinite(numeric)):
            bad = int(np.flatnonzero(~np.isfinite(numeric))[0])
            raise AuditError(f"column {name!r} has an infinite value on line {bad + 2}.")
        columns[name] = numeric
    return columns


# --------------------------------------------------------------- the audit
def prepare(columns, target, task):
    """Features as an object array, the target, the task and the feature kinds."""
    if target not in columns:
        raise AuditError(
            f"no column named {target!r}; the columns are: {', '.join(map(repr, columns))}."
        )
    y = columns[target]
    features = [name for name in columns if name != target]
    if not features:
        raise AuditError(f"the file has no feature columns besides the target {target!r}.")
    if len(y) < MIN_ROWS:
        raise AuditError(f"the file has {len(y)} data rows; the audit needs at least {MIN_ROWS}.")
    kind = type_of_target(y)
    if task is None:
        task = "regression" if kind == "continuous" else "classification"
    if task == "regression":
        if y.dtype == object:
            example = next(v for v in y if _not_a_number(v))
            raise AuditError(
                f"the regression target {target!r} is not numeric (e.g. {example!r}); "
                "use --task classification for labels."
            )
    else:
        if kind == "continuous":
            raise AuditError(
                f"the target {target!r} has continuous values; use --task regression."
            )
        if np.unique(y).size < 2:
            raise AuditError(
                f"the target {target!r} has a single class ({y[0]!r}); a classifier "
                "needs at least two."
            )
    X = np.empty((len(y), len(features)), dtype=object)
    for j, name in enumerate(features):
        X[:, j] = columns[name]
    numeric = [j for j, name in enumerate(features) if columns[name].dtype != object]
    categorical = [j for j, name in enumerate(features) if columns[name].dtype == object]
    return X, y, task, features, numeric, categorical


def _not_a_number(value):
    try:
        float(value)
    except ValueError:
        return True
    return False


def build_model(task, model, numeric, categorical):
    choices = CLASSIFIERS if task == "classification" else REGRESSORS
    if model is None:
        model = next(iter(choices))
    if model not in choices:
        raise AuditError(
            f"--model {model!r} is not available for {task}; choose from {', '.join(choices)}."
        )
    encode = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categorical", OneHotEncoder(drop="first", handle_unknown="ignore"), categorical),
        ],
        sparse_threshold=0.0,
    )
    return model, Pipeline([("encode", encode), ("model", choices[model]())])


def run_audit(X, y, *, task, model=None, numeric, categorical, test_size=0.2, top=20,
              random_state=0):
    """Fit, explain and prune; returns a dict of plain Python values (JSON-ready)."""
    model_name, pipe = build_model(task, model, numeric, categorical)
    rows = np.arange(len(y))
    stratify = None
    if task == "classification" and np.unique(y, return_counts=True)[1].min() >= 2:
        stratify = y
    try:
        tr, te = train_test_split(rows, test_size=test_size, random_state=random_state,
                                  stratify=stratify)
    except ValueError as exc:
        raise AuditError(f"cannot split the rows with --test-size {test_size}: {exc}") from None
    if task == "classification" and np.unique(y[tr]).size < 2:
        raise AuditError("the training split has a single class; use a smaller --test-size.")
    y_fit = y.astype(float) if task == "regression" else y
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories")
        pipe.fit(X[tr], y_fit[tr])
        expl = InfluenceExplainer().fit(pipe, X[tr], y_fit[tr])
        test_score = float(pipe.score(X[te], y_fit[te]))
        predicted = pipe.predict(X[tr])
        harm = expl.influence(X[te], y_fit[te]).sum(axis=0)  # Σ_test Δloss on removing i
        pruner = InfluencePruner(build_model(task, model_name, numeric, categorical)[1])
        pruner.fit(X[tr], y_fit[tr])
    self_influence = expl.self_influence()
    loss = expl.training_loss()
    order = np.argsort(-self_influence, kind="stable")[:top]
    harmful = np.argsort(harm, kind="stable")[:top]
    harmful = harmful[harm[harmful] < 0]

    def value(v):
        return v.item() if hasattr(v, "item") else v

    return {
        "task": task,
        "model": model_name,
        "n_rows": int(len(y)),
        "n_train": int(tr.size),
        "n_test": int(te.size),
        "test_score": test_score,
        "score_name": "accuracy" if task == "classification" else "R^2",
        "stationarity": float(expl.stationarity_),
        "suspicious": [
            {
                "row": int(tr[i]),
                "self_influence": float(self_influence[i]),
                "loss": float(loss[i]),
                "label": value(y[tr[i]]),
                "predicted": value(predicted[i]),
            }
            for i in order
        ],
        "harmful": [
            {
                "row": int(tr[i]),
                "heldout_loss_change_if_removed": float(harm[i]),
                "label": value(y[tr[i]]),
            }
            for i in harmful
        ],
        "pruned": [int(r) for r in tr[~pruner.support_]],
        "prune_threshold": None if math.isinf(pruner.threshold_) else float(pruner.threshold_),
        "held_out_rows": sorted(int(r) for r in te),
        "_plot": (self_influence, loss, pruner.threshold_),
    }


def demo_columns(random_state=0):
    """Breast cancer with ``DEMO_FLIPS`` labels flipped: columns and flipped rows."""
    data = load_breast_cancer()
    y = np.where(data.target == 1, "benign", "malignant").astype(object)
    rng = np.random.default_rng(random_state)
    flipped = np.sort(rng.choice(len(y), DEMO_FLIPS, replace=False))
    y[flipped] = np.where(y[flipped] == "benign", "malignant", "benign")
    columns = {name: data.data[:, j] for j, name in enumerate(data.feature_names)}
    columns["diagnosis"] = y
    return columns, "diagnosis", flipped


# ----------------------------------------------------------------- output
def _table(headers, rows):
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in cells)) if cells else len(h)
              for k, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_report(report, source, flipped=None):
    flipped = None if flipped is None else set(int(r) for r in flipped)

    def with_flip(headers, rows):
        if flipped is None:
            return headers, rows
        return headers + ["flipped"], [r + ["yes" if r[0] in flipped else ""] for r in rows]

    out = [
        f"skinfluence audit of {source}: {report['n_rows']} rows, {report['task']} with "
        f"{report['model']}, trained on {report['n_train']}, held out {report['n_test']} "
        f"(test {report['score_name']} {report['test_score']:.3f}).",
        "Rows are 0-based data rows (line in the file = row + 2).",
        "",
        "Most suspicious training rows (self-influence: increase of the row's own loss "
        "when it is left out):",
    ]
    out.append(_table(*with_flip(
        ["row", "self-influence", "loss", "label", "predicted"],
        [[s["row"], s["self_influence"], s["loss"], s["label"], s["predicted"]]
         for s in report["suspicious"]],
    )))
    if flipped is not None:
        found = sum(s["row"] in flipped for s in report["suspicious"])
        out.append(f"{found} of the {len(report['flipped_in_train'])} training rows whose label "
                   f"the demo flipped are in this top {len(report['suspicious'])}.")
    out += ["", "Training rows most harmful to the held-out split (removing the row "
                "lowers the summed held-out loss by):"]
    if report["harmful"]:
        out.append(_table(*with_flip(
            ["row", "held-out loss change", "label"],
            [[h["row"], h["heldout_loss_change_if_removed"], h["label"]]
             for h in report["harmful"]],
        )))
    else:
        out.append("  none: removing any single row would raise the held-out loss.")
    out.append("")
    if report["pruned"]:
        out.append(
            f"InfluencePruner(threshold='auto') would drop {len(report['pruned'])} row(s) "
            f"scoring above {report['prune_threshold']:.4g}: "
            + ", ".join(str(r) for r in report["pruned"])
        )
    else:
        out.append("InfluencePruner(threshold='auto') would drop no row: the self-influence "
                   "histogram has no separate high mode.")
    return "\n".join(out)


def write_plots(report, out_dir):
    """Self-influence histogram with the pruning threshold, and loss vs self-influence."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    self_influence, loss, threshold = report["_plot"]
    os.makedirs(out_dir, exist_ok=True)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    positive = self_influence[self_influence > 0]
    if positive.size:
        bins = np.logspace(np.log10(positive.min()), np.log10(positive.max()), 40)
        ax0.hist(positive, bins=bins)
        ax0.set_xscale("log")
    if np.isfinite(threshold):
        ax0.axvline(threshold, color="red", label="pruning threshold")
        ax0.legend()
    ax0.set(xlabel="self-influence", ylabel="training rows", title="Self-influence")
    ax1.loglog(np.maximum(loss, 1e-12), np.maximum(self_influence, 1e-16), ".", alpha=0.6)
    ax1.set(xlabel="training loss", ylabel="self-influence", title="Loss vs self-influence")
    fig.tight_layout()
    path = os.path.join(out_dir, "self_influence.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def audit_main(args, stdout):
    """Run ``skinfluence audit`` for parsed arguments; raises AuditError on bad input."""
    if not 0 < args.test_size < 1:
        raise AuditError(f"--test-size must be between 0 and 1, got {args.test_size}.")
    if args.top < 1:
        raise AuditError(f"--top must be at least 1, got {args.top}.")
    flipped = None
    if args.file is None:
        columns, target, flipped = demo_columns()
        if args.target not in (None, target):
            raise AuditError("--target cannot be used without a file.")
        source = (f"the bundled demo (scikit-learn's breast cancer data with {DEMO_FLIPS} "
                  "diagnoses deliberately flipped)")
    else:
        if args.target is None:
            raise AuditError("--target COL is required with a file.")
        header, data = read_csv(args.file)
        columns, target, source = parse_columns(header, data), args.target, args.file
    X, y, task, _, numeric, categorical = prepare(columns, target, args.task)
    report = run_audit(X, y, task=task, model=args.model, numeric=numeric,
                       categorical=categorical, test_size=args.test_size, top=args.top)
    plot_data = report.pop("_plot")
    if flipped is not None:
        held_out = set(report["held_out_rows"])
        report["flipped"] = [int(r) for r in flipped]
        report["flipped_in_train"] = [int(r) for r in flipped if r not in held_out]
    plots = []
    if not args.no_plot:
        plots = write_plots({**report, "_plot": plot_data}, args.out)
    report["plots"] = plots
    if args.json:
        json.dump(report, stdout, indent=2)
        stdout.write("\n")
    else:
        stdout.write(format_report(report, source, flipped) + "\n")
        if plots:
            stdout.write(f"Plots: {', '.join(plots)}\n")
    return 0

