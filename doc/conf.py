"""Sphinx configuration of the skinfluence documentation.

Build (offline, warnings are errors)::

    python -m pip install ".[docs]"
    python -m sphinx -W -b html doc doc/_build/html

Nothing here downloads anything: intersphinx reads the inventories shipped in
``doc/_inventories/`` (see ``doc/_inventories/README.md`` to refresh them on a
machine with internet access) and registers only the projects whose inventory
file is present, so a missing file means plain text instead of a link, never a
network request or a warning.
"""

import os
import pathlib
import re
import warnings

HERE = pathlib.Path(__file__).resolve().parent

import skinfluence  # noqa: E402

project = "skinfluence"
author = "The skinfluence developers"
copyright = "The skinfluence developers"  # noqa: A001
release = skinfluence.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_inventories", "_ext", "**/README.md", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# MyST: $math$, ```{directive}``` fences, anchors for "page.md#section" links.
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Autodoc / autosummary / numpydoc
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"  # plain text types, except the aliases below
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "estimator": "sklearn.base.BaseEstimator",
    "Axes": "matplotlib.axes.Axes",
    "Figure": "matplotlib.figure.Figure",
}


def _skip_sklearn_plumbing(app, what, name, obj, skip, options):
    """Leave scikit-learn's generated metadata-routing methods out of the reference."""
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    return None


_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)\s])")


def _quote_attribute_names_in_types(app, what, name, obj, options, lines):
    """``(n_features_in_,)`` in a numpydoc type line is a reST reference; quote it.

    Runs before numpydoc (priority 400 < 500) on ``name : type`` lines only.
    """
    for k, line in enumerate(lines):
        head, sep, typ = line.partition(" : ")
        if sep and not line.startswith(" ") and "shape" in typ:
            lines[k] = head + sep + _TRAILING_UNDERSCORE.sub(r"``\1``", typ)


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_plumbing)
    app.connect("autodoc-process-docstring", _quote_attribute_names_in_types, priority=400)




def _write_unlisted_api():
    """Public names missing from api.rst go to an "Other" section (never left out).

    autosummary does not read included files, so the stub page of each such name is
    written here too.
    """
    api = (HERE / "api.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   ([A-Za-z_]\w*)$", api, flags=re.M))
    missing = sorted(n for n in skinfluence.__all__ if not n.startswith("__") and n not in listed)
    out = HERE / "generated"
    out.mkdir(exist_ok=True)
    text = ""
    if missing:
        text = "Other\n-----\n\n.. autosummary::\n\n" + "".join(f"   {n}\n" for n in missing)
        text += "\n.. toctree::\n   :hidden:\n\n" + "".join(
            f"   generated/skinfluence.{n}\n" for n in missing
        )
    for name in missing:
        obj = getattr(skinfluence, name)
        kind = "autoclass" if isinstance(obj, type) else "autofunction"
        options = "   :members:\n" if kind == "autoclass" else ""
        title = f"skinfluence.{name}"
        stub = f"{title}\n{'=' * len(title)}\n\n.. currentmodule:: skinfluence\n\n.. {kind}:: {name}\n{options}"
        (out / f"skinfluence.{name}.rst").write_text(stub, encoding="utf-8")
    inc = out / "unlisted.rst.inc"
    if not inc.is_file() or inc.read_text(encoding="utf-8") != text:
        inc.write_text(text, encoding="utf-8")


_write_unlisted_api()


def _write_cli_outputs():
    """The command line's help and demo outputs, as the installed version prints them.

    doc/user_guide/cli.md includes these files, so the page never describes options
    that have changed. A failing command fails the build (-W): the page would be wrong.
    """
    import subprocess
    import sys

    out = HERE / "generated"
    out.mkdir(exist_ok=True)
    env = {**os.environ, "COLUMNS": "92", "MPLBACKEND": "Agg"}
    commands = {
        "cli_help.txt": ["--help"],
        "cli_demo_help.txt": ["demo", "--help"],
        "cli_audit_help.txt": ["audit", "--help"],
        "cli_demo.txt": ["demo", "--no-plot"],
        "cli_audit_demo.txt": ["audit", "--no-out", "--top", "5", "--quiet"],
    }
    for name, args in commands.items():
        run = subprocess.run(
            [sys.executable, "-m", "skinfluence", *args], capture_output=True, text=True,
            env=env, cwd=out, timeout=600,
        )
        if run.returncode != 0:
            raise RuntimeError(f"skinfluence {' '.join(args)} failed:\n{run.stderr}")
        (out / name).write_text(run.stdout, encoding="utf-8")


_write_cli_outputs()

# MathJax is loaded from a CDN by the *reader's browser*; the build itself
# downloads nothing. Point it at a local copy here to read the site offline.
mathjax_path = os.environ.get(
    "SKINFLUENCE_MATHJAX", "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
)

# Intersphinx, offline: register a project only if its inventory is shipped.
INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "sklearn": "https://scikit-learn.org/stable/",
    "pandas": "https://pandas.pydata.org/docs/",
    "matplotlib": "https://matplotlib.org/stable/",
    "joblib": "https://joblib.readthedocs.io/en/stable/",
}
intersphinx_mapping = {
    name: (url, str(HERE / "_inventories" / f"{name}.inv"))
    for name, url in INVENTORIES.items()
    if (HERE / "_inventories" / f"{name}.inv").is_file()
}
intersphinx_timeout = 1

# sphinx-gallery over examples/
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": "True",
    "doc_module": ("skinfluence",),
    "backreferences_dir": "generated/backreferences",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "capture_repr": ("_repr_html_",),
    "min_reported_time": 1,
}
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings(
    "ignore", category=UserWarning, message="Matplotlib is currently using agg"
)

# HTML
html_theme = "pydata_sphinx_theme"
html_title = f"skinfluence {release}"
html_static_path = []
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": []}
html_show_sourcelink = True
html_copy_source = True
