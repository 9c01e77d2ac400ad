"""Every example runs as a script (figures written to a temporary directory).

The few that take more than ~10 s on two cores are marked ``slow``: the default
``pytest`` run leaves them out (``-m slow`` runs them), and CI's documentation build
(sphinx-gallery, ``sphinx -W``) executes every example anyway, so none goes untested.
"""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parents[1] / "examples").glob("plot_*.py"))
#: Measured above 10 s on two cores (pytest --durations).
SLOW = {
    "plot_koh_liang_fig2_refits.py",
    "plot_chalmers_distances.py",
    "plot_training_set_attack.py",
    "plot_smooth_hinge.py",
}


@pytest.mark.parametrize(
    "script",
    [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW else p for p in EXAMPLES],
    ids=lambda p: p.name,
)
def test_example_runs(script, tmp_path):
    pytest.importorskip("matplotlib")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert list(tmp_path.glob("*.png")), "the example wrote no figure"
