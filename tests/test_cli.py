"""The command line, driven as a user would: in a subprocess."""

import re
import subprocess
import sys

import pytest


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
