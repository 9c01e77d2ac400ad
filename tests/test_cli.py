"""The command line, driven as a user would: in a subprocess, and in-process for speed.

The tables are generated here and look like real ones: missing values, text
columns, id and name columns, imbalanced and numeric targets, duplicated
column names, a label with a single row.
"""

import csv
import html.parser
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from skinfluence.__main__ import main


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "skinfluence", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_demo_checks_itself_against_refits(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "demo.png"
    out = run("demo", "--out", str(png))
    assert out.returncode == 0, out.stderr
    assert "Most helpful training digits" in out.stdout
    assert "Most harmful training digits" in out.stdout
    r = float(re.search(r"Pearson R = ([0-9]+\.[0-9]+)", out.stdout).group(1))
    assert r >= 0.99
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_without_plot_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--no-plot"]) == 0
    assert "Pearson R" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_help_and_version(capsys):
    assert main([]) == 2 and "demo" in capsys.readouterr().out
    for argv, code, stream, text in (
        (["--version"], 0, "out", "skinfluence "),
        (["no-such-command"], 2, "err", "invalid choice"),
        (["audit", "--help"], 0, "out", "--impute"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == code
        captured = capsys.readouterr()
        assert text in getattr(captured, stream)
        if argv == ["audit", "--help"]:
            for option in ("--impute", "--index-col", "--drop", "--test", "--seed", "--C", "--class-weight",
                           "--alpha", "--damping", "--html", "--out", "--quiet", "--progress",
                           "--task", "--contamination", "--check"):
                assert option in captured.out
            assert "(default: none)" in captured.out  # --impute's default is stated


# ----------------------------------------------------------------- helpers
def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def audit_json(capsys, *argv):
    """Run ``skinfluence audit ... --json`` in-process: (report, stderr)."""
    code = main(["audit", *argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


def audit_fails(capsys, *argv):
    """Run ``skinfluence audit`` expecting failure: the one stderr line."""
    code = main(["audit", *argv, "--no-out"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skinfluence audit: error:")
    return lines[0]


def read_scores(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def people(n=160, seed=0, missing=False, rare=False):
    """A Titanic-like table: id, name, age (missing), sex, class, fare, a 0/1 target."""
    rng = np.random.default_rng(seed)
    age = rng.normal(35, 12, n).round(1)
    sex = rng.choice(["female", "male"], n)
    cls = rng.choice(["first", "second", "third"], n, p=[0.25, 0.25, 0.5])
    fare = np.round(rng.gamma(2.0, 15.0, n) * np.where(cls == "first", 3, 1), 2)
    logit = 1.5 * (sex == "female") - 0.03 * (age - 35) + 0.8 * (cls == "first") - 0.5
    survived = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    rows = []
    for i in range(n):
        a = "" if missing and i % 9 == 4 else age[i]
        rows.append([1000 + i, f"Person {i:04d}, Mx.", a, sex[i], cls[i], fare[i],
                     survived[i]])
    if rare:
        rows[7][4] = "crew"  # a class of travel with a single row
    header = ["passenger_id", "name", "age", "sex", "class", "fare", "survived"]
    return header, rows


# -------------------------------------------------------------------- demo
def test_audit_demo_finds_the_flipped_labels_and_checks_against_refits(tmp_path, capsys):
    report, _ = audit_json(capsys, "--out", str(tmp_path / "out"))
    assert report["task"] == "classification" and "inferred" in report["task_reason"]
    suspicious = [s["id"] for s in report["suspicious"]]
    flipped = set(report["flipped_in_train"])
    assert len(flipped) >= 10
    # Random rows would hit 20 × 17/455 ≈ 0.7 flips; influence finds most of them.
    assert len(flipped & set(suspicious)) >= 0.7 * len(flipped)
    a = report["agreement"]
    assert a["n_rows"] >= 10
    assert a["self_influence"]["pearson_r"] > 0.99
    assert a["heldout_loss_change"]["pearson_r"] > 0.99
    assert 0.9 < a["self_influence"]["slope"] < 1.1
    # Nothing stands apart with the automatic threshold; the report says why and shows
    # what dropping a chosen fraction does.
    assert report["pruned"] == []
    show = report["showcase"]
    assert show["n_dropped"] > 10 and show["n_flipped"] >= 0.6 * show["n_dropped"]
    assert show["test_score_after_pruning"] >= report["test_score"]
    code = main(["audit", "--no-out", "--top", "5"])
    text = capsys.readouterr().out
    assert code == 0
    assert "deliberately flipped" in text and "Most suspicious" in text
    assert "would drop no row" in text and "long tail" in text
    assert re.search(r"With --contamination 0.04 the pruner would drop \d+ rows, \d+ of them "
                     r"flipped labels; refitted without them, held-out accuracy", text)


def test_audit_demo_with_contamination_drops_flipped_rows_and_helps(tmp_path, capsys):
    report, _ = audit_json(capsys, "--contamination", "0.04", "--no-out", "--check", "0")
    dropped = {r["id"] for r in report["pruned"]}
    assert len(dropped) == round(0.04 * report["n_train"])
    assert len(dropped & set(report["flipped_in_train"])) >= 0.6 * len(dropped)
    assert report["test_score_after_pruning"] >= report["test_score"]
    assert report["agreement"] is None and "showcase" not in report


# -------------------------------------------------------------- regression
def test_regression_ids_are_line_numbers_and_scores_match_statsmodels(tmp_path, capsys):
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(0)
    n = 120
    x = rng.uniform(0, 10, n)
    colour = rng.choice(["red", "green", "blue"], n)
    y = -5 * x + 5 + 2.0 * (colour == "red") + rng.normal(0, 0.5, n)
    planted = [10, 77]
    y[planted] = 100.0
    path = _write_csv(tmp_path / "line.csv", ["x", "colour", "y"],
                      zip(x, colour, y, strict=True))
    out = tmp_path / "out"
    report, _ = audit_json(capsys, path, "--target", "y", "--model", "linear",
                           "--test-size", "0.1", "--out", str(out))
    assert report["task"] == "regression" and report["model"] == "linear"
    assert "non-integer" in report["task_reason"]
    assert "line numbers" in report["id_note"]
    lines = [r + 2 for r in planted]  # header on line 1
    in_train = [v for v in lines if v not in report["held_out_ids"]]
    assert in_train and sorted(r["id"] for r in report["pruned"]) == in_train
    assert {s["id"] for s in report["suspicious"][: len(in_train)]} == set(in_train)
    # Exact leave-one-out for least squares: the refits agree to rounding.
    a = report["agreement"]
    assert a["self_influence"]["max_abs_error"] < 1e-6 * max(
        1.0, max(s["self_influence"] for s in report["suspicious"]))
    # scores.csv: every row of the file, with the classical diagnostics.
    scores = read_scores(out / "scores.csv")
    assert len(scores) == n
    train = [r for r in scores if r["part"] == "train"]
    assert {r["status"] for r in train} == {"kept", "dropped"}
    assert sorted(int(r["id"]) for r in train if r["status"] == "dropped") == in_train
    ids = np.array([int(r["id"]) for r in train]) - 2
    design = np.column_stack([
        (x[ids] - x[ids].mean()) / x[ids].std(),
        colour[ids] == "green", colour[ids] == "red",  # drop="first": blue is the baseline
    ]).astype(float)
    ols = sm.OLS(y[ids], sm.add_constant(design)).fit()
    infl = ols.get_influence()
    np.testing.assert_allclose([float(r["leverage"]) for r in train],
                               infl.hat_matrix_diag, rtol=1e-8)
    np.testing.assert_allclose([float(r["cooks_distance"]) for r in train],
                               infl.cooks_distance[0], rtol=1e-6)
    loo = np.array([float(r["loo_loss"]) for r in train])
    np.testing.assert_allclose(loo, (ols.resid / (1 - infl.hat_matrix_diag)) ** 2, rtol=1e-6)
    held = [r for r in scores if r["part"] == "held out"]
    assert len(held) == report["n_test"] and all(r["self_influence"] == "" for r in held)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(f.rsplit("/", 1)[-1] for f in report["files"] if f.endswith(".png"))
    assert len(pngs) == 5 and "influence_plot.png" in pngs


@pytest.mark.parametrize(
    "values, expected, why",
    [
        (lambda rng, n: rng.normal(4000, 800, n).round(1), "regression", "non-integer"),
        (lambda rng, n: rng.integers(18, 80, n), "regression", "distinct integers"),
        (lambda rng, n: rng.integers(0, 2, n), "classification", "2 distinct integers"),
        (lambda rng, n: rng.choice(["Adelie", "Gentoo", "Chinstrap"], n), "classification",
         "text"),
    ],
)
def test_task_is_inferred_and_said(tmp_path, capsys, values, expected, why):
    rng = np.random.default_rng(3)
    n = 80
    a, b = rng.normal(size=n), rng.normal(size=n)
    path = _write_csv(tmp_path / "t.csv", ["a", "b", "target"],
                      zip(a, b, values(rng, n), strict=True))
    report, _ = audit_json(capsys, path, "--target", "target", "--no-out", "--check", "0")
    assert report["task"] == expected and why in report["task_reason"]
    main(["audit", path, "--target", "target", "--no-out", "--check", "0"])
    assert f"Task: {expected} (inferred:" in capsys.readouterr().out


def test_task_override(tmp_path, capsys):
    rng = np.random.default_rng(4)
    n = 80
    rating = rng.integers(1, 6, n)  # 5 values: inferred as classes
    path = _write_csv(tmp_path / "r.csv", ["a", "rating"],
                      zip(rng.normal(size=n) + rating, rating, strict=True))
    report, _ = audit_json(capsys, path, "--target", "rating", "--no-out", "--check", "0")
    assert report["task"] == "classification"
    report, _ = audit_json(capsys, path, "--target", "rating", "--task", "regression",
                           "--no-out", "--check", "0", "--alpha", "0.5")
    assert report["task"] == "regression" and report["task_reason"].startswith("--task")
    assert "alpha=0.5" in report["estimator"]


# ---------------------------------------------- a realistic classification
def test_titanic_like_table(tmp_path, capsys):
    header, rows = people(missing=True)
    path = _write_csv(tmp_path / "passengers.csv", header, rows)
    line = audit_fails(capsys, path, "--target", "survived")
    assert "'age'" in line and "missing" in line and "--impute median" in line
    out = tmp_path / "out"
    report, err = audit_json(capsys, path, "--target", "survived", "--impute", "median",
                             "--out", str(out), "--check", "5")
    # name and passenger_id differ in every row: the user is warned, with the way out
    assert "'name' has a different value in every row" in err
    assert "--index-col name" in err and "--index-col passenger_id" in err
    assert report["impute"] == "median" and any("imputed" in n for n in report["notes"])
    assert report["n_features_encoded"] > report["n_train"]  # the one-hot names swamp the model
    report, err = audit_json(capsys, path, "--target", "survived", "--impute", "median",
                             "--index-col", "name", "--drop", "passenger_id",
                             "--out", str(out), "--C", "0.5", "--seed", "3")
    assert "different value in every row" not in err
    assert report["features"] == ["age", "sex", "class", "fare"]
    assert "C=0.5" in report["estimator"] and "--seed 3" in report["split"]
    assert "'name'" in report["id_note"]
    names = {r[1] for r in rows}
    for table in ("suspicious", "harmful"):
        assert report[table] and all(r["id"] in names for r in report[table])
    scores = read_scores(out / "scores.csv")
    assert len(scores) == len(rows) and {r["id"] for r in scores} == names
    train = [r for r in scores if r["part"] == "train"]
    assert all(float(r["cooks_distance"]) >= 0 for r in train)  # binary logistic: GLM's
    assert all(0 <= float(r["leverage"]) <= 1 for r in train)
    assert all(float(r["self_influence"]) >= 0 for r in train)


@pytest.mark.parametrize("model", ["linear-svc", "ridge"])
def test_other_classifiers(tmp_path, capsys, model):
    rng = np.random.default_rng(1)
    n = 150
    a, b = rng.normal(size=n), rng.normal(size=n)
    city = rng.choice(["paris", "rome", "oslo"], n)
    label = np.where(a + b + (city == "rome") > 0.5, "yes", "no")
    label[a - b > 1.5] = "maybe"  # three classes: one-vs-rest outputs
    path = _write_csv(tmp_path / "clf.csv", ["a", "b", "city", "label"],
                      zip(a, b, city, label, strict=True))
    out = tmp_path / "out"
    report, _ = audit_json(capsys, path, "--target", "label", "--model", model,
                           "--out", str(out), "--no-plot", "--check", "4")
    assert report["model"] == model and report["agreement"]["n_rows"] >= 4
    scores = [r for r in read_scores(out / "scores.csv") if r["part"] == "train"]
    assert all(r["cooks_distance"] == "" for r in scores)  # defined for LS/logistic only
    assert all(0 <= float(r["leverage"]) <= 1 + 1e-9 for r in scores)


def test_imbalanced_target_and_rare_label(tmp_path, capsys):
    rng = np.random.default_rng(5)
    n = 300
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    label = np.where(x1 + 0.5 * x2 > 1.6, "buyer", "no")  # ~8 % positives
    label[17] = "fraud"  # a label with a single row
    path = _write_csv(tmp_path / "caravan.csv", ["x1", "x2", "label"],
                      zip(x1, x2, label, strict=True))
    for seed in range(3):
        report, _ = audit_json(capsys, path, "--target", "label", "--no-out", "--check", "0",
                               "--seed", str(seed))
        assert 19 not in report["held_out_ids"]  # line of the single 'fraud' row
        assert any("single row" in n and "'fraud'" in n for n in report["notes"])
        assert report["n_test"] == report["n_test_scored"]
    # Dropping a fifth of the rows would take most of the minority class: the pruner's
    # class cap binds, its warning is relayed, and the threshold is not said to be the rule.
    code = main(["audit", path, "--target", "label", "--no-out", "--check", "0",
                 "--contamination", "0.2", "--top", "3"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "skinfluence audit: warning: InfluencePruner: max_class_fraction" in err
    assert "kept by the pruner's per-class rules" in out
    assert "more (--top 3; every row is in scores.csv" in out
    assert "consider --class-weight balanced." in err  # the CLI's way, not the Python one
    report, err = audit_json(capsys, path, "--target", "label", "--no-out", "--check", "3",
                             "--class-weight", "balanced")
    assert "class_weight='balanced'" in report["estimator"]
    assert report["agreement"]["self_influence"]["pearson_r"] > 0.99


def test_separate_test_file_with_an_unseen_label(tmp_path, capsys):
    rng = np.random.default_rng(6)
    n = 100
    x = rng.normal(size=(n + 30, 2))
    label = np.where(x[:, 0] > 0, "a", "b").astype(object)
    label[n + 3] = "c"  # only in the test file
    _write_csv(tmp_path / "train.csv", ["x1", "x2", "label"],
               zip(x[:n, 0], x[:n, 1], label[:n], strict=True))
    _write_csv(tmp_path / "test.csv", ["x1", "x2", "label"],
               zip(x[n:, 0], x[n:, 1], label[n:], strict=True))
    report, _ = audit_json(capsys, str(tmp_path / "train.csv"), "--target", "label",
                           "--test", str(tmp_path / "test.csv"), "--no-out", "--check", "3")
    assert report["n_train"] == n and report["n_test"] == 30 and report["n_test_scored"] == 29
    assert any("'c'" in note and "left out of scoring" in note for note in report["notes"])
    assert report["split"] == "the --test file"
    _write_csv(tmp_path / "other.csv", ["x1", "x3", "label"], [[1, 2, "a"]] * 12)
    line = audit_fails(capsys, str(tmp_path / "train.csv"), "--target", "label",
                       "--test", str(tmp_path / "other.csv"))
    assert "missing 'x2'" in line and "extra 'x3'" in line


def test_collinear_linear_model_is_one_line_and_damping_fixes_it(tmp_path, capsys):
    rng = np.random.default_rng(7)
    n = 60
    a = rng.normal(size=n)
    y = 2 * a + rng.normal(0, 0.1, n)
    path = _write_csv(tmp_path / "col.csv", ["a", "a_twice", "y"],
                      zip(a, 2 * a, y, strict=True))
    line = audit_fails(capsys, path, "--target", "y", "--model", "linear")
    assert "--damping" in line and "--model ridge" in line
    report, _ = audit_json(capsys, path, "--target", "y", "--model", "linear",
                           "--damping", "1e-6", "--no-out", "--check", "5")
    assert report["damping"] == 1e-6


def test_a_row_of_leverage_one_is_named_by_id_and_not_ranked(tmp_path, capsys):
    rng = np.random.default_rng(9)
    n = 60
    x = rng.normal(size=n)
    cat = rng.choice(["a", "b"], n).astype(object)
    cat[5] = "only-once"  # one-hot column of a single row: leverage 1 without a penalty
    y = 2 * x + (cat == "a") + rng.normal(0, 0.3, n)
    path = _write_csv(tmp_path / "lev.csv", ["x", "cat", "y"], zip(x, cat, y, strict=True))
    report, err = audit_json(capsys, path, "--target", "y", "--model", "linear",
                             "--test-size", "0.1", "--seed", "1", "--no-out")
    assert 7 not in report["held_out_ids"]  # line 7 holds the row
    note = next(n for n in report["notes"] if "no self-influence" in n)
    assert "ids 7;" in note and "--damping" in note
    assert all(r["id"] != 7 for t in ("suspicious", "harmful", "pruned") for r in report[t])
    assert "leverage 1 to rounding" not in err  # said once, in the note, with the id


def test_many_classes_with_single_rows_are_not_refitted(tmp_path, capsys):
    rng = np.random.default_rng(10)
    n = 60
    age = rng.integers(18, 50, n)
    path = _write_csv(tmp_path / "ages.csv", ["x", "age"],
                      zip(rng.normal(size=n) + age / 10, age, strict=True))
    report, _ = audit_json(capsys, path, "--target", "age", "--task", "classification",
                           "--no-out", "--check", "5")
    assert report["task"] == "classification"
    assert any("only row of their label" in n for n in report["notes"])


def test_progress_lines_and_quiet(tmp_path, capsys, monkeypatch):
    header, rows = people(n=60)
    path = _write_csv(tmp_path / "p.csv", header, rows)
    args = ("audit", path, "--target", "survived", "--drop", "name", "--index-col",
            "passenger_id", "--no-plot", "--check", "0")
    out = run(*args, "--progress", cwd=tmp_path)  # stderr is a pipe, not a terminal
    assert out.returncode == 0, out.stderr
    assert re.search(r"\[skinfluence audit\] fitting logistic on \d+ rows: done in", out.stderr)
    assert (tmp_path / "skinfluence-audit" / "scores.csv").exists()
    monkeypatch.chdir(tmp_path)
    assert main(list(args) + ["--quiet"]) == 0
    assert "[skinfluence audit]" not in capsys.readouterr().err
    # not a terminal and no --progress: no progress lines either
    assert main(list(args)) == 0
    assert "[skinfluence audit]" not in capsys.readouterr().err
    # a terminal: progress by default
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(list(args)) == 0
    assert "[skinfluence audit] pruning" in capsys.readouterr().err


# ------------------------------------------------------------- HTML report
class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.ids, self.srcs, self.hrefs, self.tables = [], set(), [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "src" in attrs:
            self.srcs.append(attrs["src"])
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "table":
            self.tables.append(attrs.get("class"))


def test_html_report_is_self_contained(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    page = tmp_path / "report.html"
    report, _ = audit_json(capsys, "--html", str(page), "--no-out", "--top", "5")
    text = page.read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(text)
    assert text.startswith("<!DOCTYPE html>")
    assert {"inferred", "agreement", "suspicious", "harmful", "pruned", "pictures"} <= parsed.ids
    assert {"agreement", "suspicious", "harmful"} <= set(parsed.tables)
    assert parsed.srcs and all(s.startswith("data:image/png;base64,") for s in parsed.srcs)
    assert len(parsed.srcs) == 5
    assert not parsed.hrefs and "http://" not in text and "https://" not in text
    assert "<script" not in text
    r = report["agreement"]["self_influence"]["pearson_r"]
    assert f"Pearson R {r:.4f}" in text
    assert "<code>--contamination 0.04</code>" in text  # the demo's showcase line
    plain = re.sub(r"<[^>]+>", "", text).replace("&#x27;", "'")
    assert report["task_reason"] in plain and report["id_note"] in plain
    assert text.count('<tr class="flip">') >= 3  # flipped rows highlighted
    assert str(page) in report["files"]


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "header, rows, args, message",
    [
        (["a", "b"], [[1, 2]] * 20, ["--target", "c"], "no column named 'c'"),
        (None, None, ["--target", "y"], "empty"),
        (["a", "y"], [[i, "x"] for i in range(20)], ["--target", "y"], "single class"),
        (["a", "y"], [[i, f"v{i}"] for i in range(20)], ["--target", "y", "--task", "regression"],
         "not numeric"),
        (["a", "y"], [[i if i != 3 else "", i % 2] for i in range(20)], ["--target", "y"],
         "--impute median"),
        (["a", "y"], [[i, 0.5 + i % 2] for i in range(20)],
         ["--target", "y", "--task", "classification"], "non-integer values"),
        (["a", "y"], [[i, i % 2] for i in range(20)] + [[1]], ["--target", "y"], "line 22 has 1"),
        (["a", "y"], [[1, 0], [2, 1]], ["--target", "y"], "at least 10"),
        (["a", "y"], [[i, i % 2] for i in range(20)], ["--target", "y", "--model", "lasso"],
         "not available"),
        (["a", "y"], [[i, i % 2] for i in range(20)], [], "--target COL is required"),
        (["a", "y"], [[i, i % 2] for i in range(20)], ["--target", "y", "--test-size", "2"],
         "--test-size"),
        (["a", "a", "c", "y"], [[i, i, i, i % 2] for i in range(20)], ["--target", "y"],
         "duplicate column names: 'a' (columns 1, 2)"),
        (["a", "y"], [[i, i % 2] for i in range(20)], ["--target", "y", "--alpha", "2"],
         "--alpha does not apply to --model logistic"),
        (["a", "y"], [[i, i * 1.5] for i in range(20)], ["--target", "y", "--model", "linear",
                                                         "--C", "2"], "--C does not apply"),
        (["a", "y"], [[i, i % 2] for i in range(20)], ["--target", "y", "--C", "-1"],
         "--C must be a positive number"),
        (["a", "y"], [[i, i % 2] for i in range(20)], ["--target", "y", "--damping", "-1"],
         "--damping"),
        (["a", "y"], [[i, i % 2] for i in range(20)], ["--target", "y", "--drop", "b"],
         "--drop: no column named 'b'"),
        (["k", "a", "y"], [[i % 5, i, i % 2] for i in range(20)],
         ["--target", "y", "--index-col", "k"], "ids must be unique"),
        (["a", "b", "y"], [[i, "", i % 2] for i in range(20)], ["--target", "y"],
         "no values at all"),
        (["a", "y"], [[i, i % 2] for i in range(20)], ["--target", "y", "--test", "nope.csv"],
         "nope.csv: no such file"),
        (["a", "y"], [[i, i % 2] for i in range(20)],
         ["--target", "y", "--html", "no/such/dir/r.html"], "does not exist"),
    ],
)
def test_audit_bad_input_is_one_line_and_exit_2(tmp_path, header, rows, args, message, capsys,
                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.csv"
    if header is None:
        path.write_text("")
    else:
        _write_csv(path, header, rows)
    argv = ["audit", str(path), *args, "--no-out"]
    if message == "--impute median":
        out = run(*argv, cwd=tmp_path)  # as a user runs it
        returncode, stderr = out.returncode, out.stderr
    else:  # the same entry point, in-process (saves an interpreter start per case)
        returncode = main(argv)
        stderr = capsys.readouterr().err
    assert returncode == 2
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr
    assert lines[0].startswith("skinfluence audit: error:")
    assert list(tmp_path.iterdir()) == [path]  # nothing written


def test_audit_missing_file(tmp_path, capsys):
    line = audit_fails(capsys, str(tmp_path / "nope.csv"), "--target", "y")
    assert "nope.csv: no such file" in line
    line = audit_fails(capsys, str(tmp_path), "--target", "y")
    assert "is a directory" in line


def test_empty_header_cell_is_named(tmp_path, capsys):
    rng = np.random.default_rng(8)
    n = 40
    rows = [[i, v, int(v > 0)] for i, v in enumerate(rng.normal(size=n))]
    path = _write_csv(tmp_path / "pandas.csv", ["", "v", "y"], rows)  # df.to_csv() shape
    report, err = audit_json(capsys, path, "--target", "y", "--no-out", "--check", "0")
    assert any("'unnamed_1'" in n for n in report["notes"])
    assert "--index-col unnamed_1" in err


def test_ids_are_true_line_numbers_with_blank_lines_and_semicolons(tmp_path, capsys):
    rng = np.random.default_rng(11)
    lines = ["a;b;y"]
    for i in range(40):
        lines.append(f"{rng.normal():.3f};{rng.normal():.3f};{i % 2}")
        if i == 2:
            lines.append("")  # a blank line: the rows after it keep their real line numbers
    path = tmp_path / "semi.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    report, _ = audit_json(capsys, str(path), "--target", "y", "--out", str(out),
                           "--no-plot", "--check", "0")
    ids = sorted(int(r["id"]) for r in read_scores(out / "scores.csv"))
    assert ids == [2, 3, 4] + list(range(6, 43))
    assert report["features"] == ["a", "b"]


def test_an_unexpected_error_is_one_line_too(tmp_path, capsys, monkeypatch):
    import skinfluence._audit as audit

    def broken(*args, **kwargs):
        raise RuntimeError("something\nunforeseen")

    monkeypatch.setattr(audit, "run_audit", broken)
    line = audit_fails(capsys)
    assert "RuntimeError: something unforeseen" in line and "SKINFLUENCE_DEBUG" in line
    monkeypatch.setenv("SKINFLUENCE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["audit", "--no-out"])


def test_scoring_reports_the_held_out_metric_change(tmp_path, capsys):
    """--scoring neg_log_loss is minus the mean of the held-out loss change (both exact
    at the shifted predictions), and r2 of a linear model equals refits."""
    report, _ = audit_json(capsys, "--no-out", "--top", "5", "--scoring", "neg_log_loss",
                           "--check", "0")
    assert report["scoring"] == "neg_log_loss"
    harm = {h["id"]: h["heldout_loss_change_if_removed"] for h in report["harmful"]}
    for m in report["metric_harmful"]:
        if m["id"] in harm:
            assert m["heldout_metric_change_if_removed"] == pytest.approx(
                -harm[m["id"]] / report["n_test_scored"], rel=1e-8)
    assert report["metric_harmful"] and report["metric_harmful"][0]["id"] == report["harmful"][0]["id"]
    err = audit_fails(capsys, "--scoring", "no_such_metric")
    assert "--scoring no_such_metric" in err
