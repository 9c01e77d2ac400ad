"""The README's Python snippets run as written, and the Quickstart runs without a warning."""

import pathlib
import re
import warnings

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_snippets_run_and_the_quickstart_is_silent():
    blocks = _python_blocks()
    assert blocks, "the README has no Python snippet"
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the first snippet: scikit-learn defaults, no warning
        exec(compile(blocks[0], "README.md[quickstart]", "exec"), namespace)
    assert namespace["report"].pearson_r > 0.99
    for k, block in enumerate(blocks[1:], start=1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(compile(block, f"README.md[{k}]", "exec"), namespace)
            except ModuleNotFoundError as exc:  # an optional dependency of that snippet
                pytest.skip(f"README snippet {k} needs {exc.name}")
