"""numpydoc validation of every public docstring, and their Examples run.

Public means: every name in ``skinfluence.__all__`` and, for classes, every public method
and property they define themselves (scikit-learn's inherited ``get_params`` and friends are
not ours to document). The API reference (doc/api.rst) is generated from these docstrings.
"""

import doctest
import inspect
import warnings

import numpy as np
import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

import skinfluence  # noqa: E402

# The checks that make a reference page usable. Left out on purpose: style-only rules
# (SS05 verb mood, PR08/PR09/RT04/RT05 capitalisation and full stops, ES01 extended
# summary, SA01 See Also, GL02/GL03 whitespace), which numpydoc reports but which do not
# change what a reader learns.
CHECKS = {
    "GL01",  # summary starts right after (or on the line after) the quotes
    "GL06",  # unknown section
    "GL07",  # sections out of order
    "GL08",  # no docstring
    "GL10",  # reST directive without its two colons
    "SS01",  # no summary
    "SS03",  # summary without a final period
    "SS06",  # summary longer than one line
    "PR01",  # parameter not documented
    "PR02",  # documented parameter that does not exist
    "PR03",  # parameters documented in the wrong order
    "PR04",  # parameter without a type
    "PR07",  # parameter without a description
    "PR10",  # "name: type" without the space before the colon
    "RT01",  # no Returns section (for something that returns)
    "RT03",  # return value without a description
    "YD01",  # no Yields section for a generator
}
# Top-level names (what a reader lands on from the reference index) must also show an example.
TOP_LEVEL_CHECKS = CHECKS | {"EX01"}

# Known failures, as "name: code" strings: none — every public docstring passes. A new
# failure fails the test; a name added here (temporarily, with a reason) that gets fixed
# is reported by a warning.
KNOWN_FAILURES = set()


def _public_objects():
    for name in skinfluence.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(skinfluence, name)
        yield f"skinfluence.{name}", obj, True
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, property) or inspect.isfunction(member):
                    yield f"skinfluence.{name}.{attr}", getattr(obj, attr) if not isinstance(
                        member, property
                    ) else member, False


OBJECTS = list(_public_objects())


def _errors(qualname, obj, top_level):
    result = numpydoc_validate.validate(qualname)
    checks = TOP_LEVEL_CHECKS if top_level else CHECKS
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        checks = CHECKS  # an exception is raised, not called: no example needed
    errors = {code for code, _ in result["errors"] if code in checks}
    if isinstance(obj, property):
        # A property documents a value, not a call: no Parameters or Returns.
        errors -= {"PR01", "RT01"}
    return {f"{qualname}: {code}" for code in errors}, result


def test_every_public_name_is_in_the_api_reference():
    """doc/conf.py adds any public name missing from doc/api.rst to an "Other" section,
    so the reference is always complete; this reports the names still to be placed."""
    import pathlib
    import re

    api = (pathlib.Path(__file__).parents[1] / "doc" / "api.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   ([A-Za-z_]\w*)$", api, flags=re.M))
    public = {n for n in skinfluence.__all__ if not n.startswith("__")}
    if public - listed:
        warnings.warn(f"give these a section in doc/api.rst: {sorted(public - listed)}",
                      UserWarning, stacklevel=1)


def test_every_public_name_is_checked():
    names = {q for q, _, top in OBJECTS if top}
    expected = {f"skinfluence.{n}" for n in skinfluence.__all__ if not n.startswith("__")}
    assert names == expected


@pytest.mark.parametrize("qualname,obj,top_level", OBJECTS, ids=[q for q, _, _ in OBJECTS])
def test_docstring(qualname, obj, top_level):
    errors, result = _errors(qualname, obj, top_level)
    new = errors - KNOWN_FAILURES
    messages = [f"{code}: {msg}" for code, msg in result["errors"] if f"{qualname}: {code}" in new]
    assert not new, f"{qualname} fails numpydoc validation:\n  " + "\n  ".join(messages)


def test_known_failures_are_still_failures():
    """Report the listed failures that have been fixed, so that the list shrinks."""
    failing = set()
    for qualname, obj, top_level in OBJECTS:
        failing |= _errors(qualname, obj, top_level)[0]
    fixed = sorted(KNOWN_FAILURES - failing)
    if fixed:
        warnings.warn(f"fixed, delete from KNOWN_FAILURES: {fixed}", UserWarning, stacklevel=1)


@pytest.mark.parametrize(
    "qualname,obj", [(q, o) for q, o, top in OBJECTS if top], ids=[q for q, _, top in OBJECTS if top]
)
def test_examples_run(qualname, obj, tmp_path, monkeypatch):
    """The Examples section of each top-level docstring runs (pytest --doctest-modules
    runs them too; this keeps the check when the docs are tested on their own)."""
    monkeypatch.chdir(tmp_path)
    docstring = inspect.getdoc(obj) or ""
    if ">>>" not in docstring:
        pytest.skip("no example")
    test = doctest.DocTestParser().get_doctest(
        docstring, {"np": np, **vars(skinfluence)}, qualname, None, 0
    )
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
