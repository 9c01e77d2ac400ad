"""The command line, driven as a user would: in a subprocess."""

import csv
import json
import pathlib
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
        timeout=120,
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


def test_demo_without_plot_writes_nothing(tmp_path):
    out = run("demo", "--no-plot", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_and_version():
    out = run()
    assert out.returncode == 2 and "demo" in out.stdout
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("skinfluence ")
    out = run("no-such-command")
    assert out.returncode == 2 and "invalid choice" in out.stderr


# ------------------------------------------------------------------ audit
def test_audit_demo_finds_the_flipped_labels(tmp_path):
    out = run("audit", "--json", "--out", str(tmp_path / "plots"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    suspicious = [s["row"] for s in report["suspicious"]]
    flipped = set(report["flipped_in_train"])
    assert len(flipped) >= 10
    # Random rows would hit 20 × 17/455 ≈ 0.7 flips; influence finds most of them.
    assert len(flipped & set(suspicious)) >= 0.7 * len(flipped)
    text = run("audit", "--no-plot", "--top", "5", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "deliberately flipped" in text.stdout and "Most suspicious" in text.stdout


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def test_audit_regression_csv_with_categories_finds_planted_outliers(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    x = rng.uniform(0, 10, n)
    colour = rng.choice(["red", "green", "blue"], n)
    y = -5 * x + 5 + 2.0 * (colour == "red") + rng.normal(0, 0.5, n)
    planted = [10, 77]
    y[planted] = 100.0
    path = _write_csv(
        tmp_path / "line.csv", ["x", "colour", "y"], zip(x, colour, y, strict=True)
    )
    out = run("audit", path, "--target", "y", "--json", "--test-size", "0.1",
              "--out", str(tmp_path / "plots"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["task"] == "regression" and report["model"] == "ridge"
    in_train = [r for r in planted if r not in report["held_out_rows"]]
    assert in_train and sorted(report["pruned"]) == in_train
    top = {s["row"] for s in report["suspicious"][: len(in_train)]}
    assert top == set(in_train)
    assert all(pathlib.Path(p).exists() for p in report["plots"])


def test_audit_classification_text_report(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 150
    a, b = rng.normal(size=n), rng.normal(size=n)
    city = rng.choice(["paris", "rome"], n)
    label = np.where(a + b + (city == "rome") > 0.5, "yes", "no")
    path = _write_csv(tmp_path / "clf.csv", ["a", "b", "city", "label"],
                      zip(a, b, city, label, strict=True))
    out = run("audit", path, "--target", "label", "--top", "3", "--no-plot", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "classification with logistic" in out.stdout
    assert "Most suspicious training rows" in out.stdout
    for model in ("linear-svc", "ridge"):
        assert main(["audit", path, "--target", "label", "--model", model, "--no-plot"]) == 0
        assert f"classification with {model}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "header, rows, args, message",
    [
        (["a", "b"], [[1, 2]] * 20, ["--target", "c"], "no column named 'c'"),
        (None, None, ["--target", "y"], "empty"),
        (["a", "y"], [[i, "x"] for i in range(20)], ["--target", "y"], "single class"),
        (["a", "y"], [[i, f"v{i}"] for i in range(20)], ["--target", "y", "--task", "regression"],
         "not numeric"),
        (["a", "y"], [[i if i != 3 else "", i % 2] for i in range(20)], ["--target", "y"],
         "missing value"),
        (["a", "y"], [[i, "nan" if i == 5 else i] for i in range(20)], ["--target", "y"],
         "missing value"),
        (["a", "y"], [[i, i % 2] for i in range(20)] + [[1]], ["--target", "y"], "fields"),
        (["a", "y"], [[1, 0], [2, 1]], ["--target", "y"], "at least 10"),
        (["a", "y"], [[i, i % 2] for i in range(20)], ["--target", "y", "--model", "lasso"],
         "not available"),
        (["a", "y"], [[i, i % 2] for i in range(20)], [], "--target COL is required"),
        (["a", "y"], [[i, i % 2] for i in range(20)], ["--target", "y", "--test-size", "2"],
         "--test-size"),
    ],
)
def test_audit_bad_input_is_one_line_and_exit_2(tmp_path, header, rows, args, message, capsys):
    path = tmp_path / "bad.csv"
    if header is None:
        path.write_text("")
    else:
        _write_csv(path, header, rows)
    argv = ["audit", str(path), *args, "--no-plot"]
    if message in ("no column named 'c'", "empty", "missing value"):
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


def test_audit_missing_file(tmp_path):
    out = run("audit", str(tmp_path / "nope.csv"), "--target", "y", cwd=tmp_path)
    assert out.returncode == 2 and "no such file" in out.stderr and "Traceback" not in out.stderr
