"""Write the intersphinx inventories that doc/conf.py reads (``doc/_inventories/*.inv``).

The documentation is built offline (CI and the developers' machines reach package
registries only), so intersphinx never fetches ``objects.inv`` over the network: it reads
the files in this folder, and ``conf.py`` registers a project only when its file exists.

Two ways to make them:

``python doc/_inventories/make_inventories.py``
    Offline (the default, what is committed): small inventories listing only the
    external names this documentation refers to, with their pages' addresses in each
    project's published docs. Add a name to ``NAMES`` below when a page needs a new link.

``python doc/_inventories/make_inventories.py --download``
    On a machine with internet access: download each project's full ``objects.inv``
    from the address in ``doc/conf.py`` (``INVENTORIES``), replacing the small ones.
"""

import argparse
import pathlib
import sys
import urllib.request
import zlib

HERE = pathlib.Path(__file__).resolve().parent

# project -> (display name, version, [(name, domain:role, uri relative to the docs root)])
# A "$" in a uri stands for the name, as in Sphinx's own inventories.
NAMES = {
    "python": ("Python", "3", [
        *[(n, "py:class", "library/functions.html#$") for n in ("int", "float", "str", "bool", "dict", "list", "tuple", "slice")],
        *[(n, "py:exception", "library/exceptions.html#$") for n in ("ValueError", "TypeError", "UserWarning", "RuntimeWarning", "LinAlgError")],
        ("None", "py:data", "library/constants.html#$"),
        # what numpydoc's type cross-references point to
        ("bltin-boolean-values", "std:label", "library/stdtypes.html#boolean-type-bool"),
        ("generator", "std:term", "glossary.html#term-generator"),
        ("iterable", "std:term", "glossary.html#term-iterable"),
        ("file object", "std:term", "glossary.html#term-file-object"),
        ("mapping", "std:term", "glossary.html#term-mapping"),
        ("sequence", "std:term", "glossary.html#term-sequence"),
        ("callable", "py:function", "library/functions.html#$"),
        ("contextlib.contextmanager", "py:function", "library/contextlib.html#$"),
        ("collections.namedtuple", "py:function", "library/collections.html#$"),
        ("True", "py:data", "library/constants.html#$"),
        ("False", "py:data", "library/constants.html#$"),
    ]),
    "numpy": ("NumPy", "2", [
        ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html#$"),
        ("array_like", "std:term", "glossary.html#term-array_like"),
        ("array", "std:term", "glossary.html#term-array"),
        ("numpy.dtype", "py:class", "reference/generated/numpy.dtype.html#$"),
        ("arrays.scalars", "std:label", "reference/arrays.scalars.html#arrays-scalars"),
        ("numpy", "py:module", "reference/index.html#module-numpy"),
        ("numpy.inf", "py:data", "reference/constants.html#$"),
        ("numpy.nan", "py:data", "reference/constants.html#$"),
        ("numpy.random.Generator", "py:class", "reference/random/generator.html#$"),
        ("numpy.random.RandomState", "py:class", "reference/random/legacy.html#$"),
        ("numpy.random.default_rng", "py:function", "reference/random/generator.html#$"),
        ("numpy.corrcoef", "py:function", "reference/generated/numpy.corrcoef.html#$"),
        ("numpy.linalg.LinAlgError", "py:exception", "reference/generated/numpy.linalg.LinAlgError.html#$"),
    ]),
    "scipy": ("SciPy", "1", [
        *[(f"scipy.sparse.{n}", "py:class", f"reference/generated/scipy.sparse.{n}.html#$")
          for n in ("csr_matrix", "csc_matrix", "csr_array", "csc_array", "spmatrix", "sparray")],
        ("scipy.linalg.cho_factor", "py:function", "reference/generated/scipy.linalg.cho_factor.html#$"),
        ("scipy.stats.pearsonr", "py:function", "reference/generated/scipy.stats.pearsonr.html#$"),
    ]),
    "sklearn": ("scikit-learn", "1", [
        *[(f"sklearn.linear_model.{n}", "py:class", f"modules/generated/sklearn.linear_model.{n}.html#$")
          for n in ("LogisticRegression", "LinearRegression", "Ridge", "RidgeClassifier",
                    "SGDClassifier", "SGDRegressor", "LogisticRegressionCV")],
        ("sklearn.svm.LinearSVC", "py:class", "modules/generated/sklearn.svm.LinearSVC.html#$"),
        ("sklearn.pipeline.Pipeline", "py:class", "modules/generated/sklearn.pipeline.Pipeline.html#$"),
        ("sklearn.model_selection.GridSearchCV", "py:class", "modules/generated/sklearn.model_selection.GridSearchCV.html#$"),
        ("sklearn.model_selection.RandomizedSearchCV", "py:class", "modules/generated/sklearn.model_selection.RandomizedSearchCV.html#$"),
        ("sklearn.model_selection.KFold", "py:class", "modules/generated/sklearn.model_selection.KFold.html#$"),
        ("sklearn.model_selection.StratifiedKFold", "py:class", "modules/generated/sklearn.model_selection.StratifiedKFold.html#$"),
        ("sklearn.preprocessing.StandardScaler", "py:class", "modules/generated/sklearn.preprocessing.StandardScaler.html#$"),
        ("sklearn.base.BaseEstimator", "py:class", "modules/generated/sklearn.base.BaseEstimator.html#$"),
        ("sklearn.base.ClassifierMixin", "py:class", "modules/generated/sklearn.base.ClassifierMixin.html#$"),
        ("sklearn.base.RegressorMixin", "py:class", "modules/generated/sklearn.base.RegressorMixin.html#$"),
        ("sklearn.base.MetaEstimatorMixin", "py:class", "modules/generated/sklearn.base.MetaEstimatorMixin.html#$"),
        ("sklearn.exceptions.ConvergenceWarning", "py:class", "modules/generated/sklearn.exceptions.ConvergenceWarning.html#$"),
        ("sklearn.exceptions.NotFittedError", "py:class", "modules/generated/sklearn.exceptions.NotFittedError.html#$"),
        ("sklearn.get_config", "py:function", "modules/generated/sklearn.get_config.html#$"),
        ("sklearn.config_context", "py:function", "modules/generated/sklearn.config_context.html#$"),
        ("sklearn.datasets.load_digits", "py:function", "modules/generated/sklearn.datasets.load_digits.html#$"),
        ("sklearn.datasets.load_breast_cancer", "py:function", "modules/generated/sklearn.datasets.load_breast_cancer.html#$"),
        ("sklearn.model_selection.train_test_split", "py:function", "modules/generated/sklearn.model_selection.train_test_split.html#$"),
    ]),
    "pandas": ("pandas", "3", [
        ("pandas.DataFrame", "py:class", "reference/api/pandas.DataFrame.html#$"),
        ("pandas.Series", "py:class", "reference/api/pandas.Series.html#$"),
        ("pandas.Index", "py:class", "reference/api/pandas.Index.html#$"),
    ]),
    "matplotlib": ("Matplotlib", "3", [
        ("matplotlib.axes.Axes", "py:class", "api/_as_gen/matplotlib.axes.Axes.html#$"),
        ("matplotlib.figure.Figure", "py:class", "api/_as_gen/matplotlib.figure.Figure.html#$"),
        ("matplotlib.pyplot.subplots", "py:function", "api/_as_gen/matplotlib.pyplot.subplots.html#$"),
    ]),
    "joblib": ("joblib", "1", [
        ("joblib.Parallel", "py:class", "generated/joblib.Parallel.html#$"),
        ("joblib.parallel_config", "py:class", "generated/joblib.parallel_config.html#$"),
    ]),
}


def write_small(name, project, version, entries):
    lines = "".join(f"{n} {role} 1 {uri} -\n" for n, role, uri in sorted(entries))
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    ).encode()
    (HERE / f"{name}.inv").write_bytes(header + zlib.compress(lines.encode()))


def download(name, url):  # pragma: no cover - needs the internet
    with urllib.request.urlopen(url.rstrip("/") + "/objects.inv", timeout=60) as resp:
        (HERE / f"{name}.inv").write_bytes(resp.read())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--download", action="store_true",
                        help="fetch the full inventories (needs internet access)")
    args = parser.parse_args(argv)
    if args.download:
        sys.path.insert(0, str(HERE.parent))
        import conf  # noqa: PLC0415

        for name, url in conf.INVENTORIES.items():
            download(name, url)
            print(f"downloaded {name}.inv from {url}")
    else:
        for name, (project, version, entries) in NAMES.items():
            write_small(name, project, version, entries)
            print(f"wrote {name}.inv ({len(entries)} names)")


if __name__ == "__main__":
    main()
