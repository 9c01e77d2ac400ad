"""The user guide's examples run: every ```pycon block of doc/**/*.md is a doctest.

The blocks of one page share a namespace, in page order, like a reader typing them into
one interpreter session. Only fenced ``pycon`` blocks are run (plain ``python`` blocks are
sketches with placeholders such as ``X_train``).
"""

import doctest
import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).parents[1] / "doc"
PAGES = sorted(p for p in DOC.rglob("*.md") if "_build" not in p.parts and p.name != "README.md")
FENCE = re.compile(r"^```pycon[^\n]*\n(.*?)^```", re.M | re.S)


def _blocks(page):
    return FENCE.findall(page.read_text(encoding="utf-8"))


def test_userguide_has_doctests():
    assert sum(len(_blocks(p)) for p in PAGES) >= 5


@pytest.mark.parametrize(
    "page", [p for p in PAGES if _blocks(p)], ids=lambda p: str(p.relative_to(DOC))
)
def test_userguide_page(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    text = "\n".join(_blocks(page))
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"__name__": "__userguide__"}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False
    )
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
