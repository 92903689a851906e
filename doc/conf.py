"""Sphinx configuration: pydata-sphinx-theme, numpydoc, sphinx-gallery."""

import os

import fairif_sklearn

project = "fairif_sklearn"
author = "the fairif_sklearn developers"
copyright = "2026, the fairif_sklearn developers"
release = version = fairif_sklearn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax shipped in a wheel and copied into _static/mathjax/ after the build,
    # so that the maths renders with no network (offline readers, CI artefacts)
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
default_role = "literal"
exclude_patterns = ["_build", "results/*.rst"]
suppress_warnings = ["config.cache"]  # sphinx-gallery's reset function is not picklable

# The bundled MathJax 3 (sphinx-mathjax-offline sets the same path; said here too so
# that the pages can never fall back to Sphinx's default, a CDN URL). Relative to _static/.
mathjax_path = "mathjax/tex-chtml.js"

# Links to the other projects' docs. Their objects.inv cannot be downloaded offline
# (the default; CI reaches the package registries only), so the inventories are
# committed in _inventories/, generated from the installed packages by
# _inventories/make_inventories.py. FAIRIF_DOCS_OFFLINE=0 fetches the real ones
# first and falls back to the committed copies.
_DOCS_URLS = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "sklearn": "https://scikit-learn.org/stable",
    "skorch": "https://skorch.readthedocs.io/en/stable",
    "fairlearn": "https://fairlearn.org/main",
    "torch": "https://docs.pytorch.org/docs/stable",
    "joblib": "https://joblib.readthedocs.io/en/stable",
}
_OFFLINE = os.environ.get("FAIRIF_DOCS_OFFLINE", "1") == "1"
intersphinx_mapping = {
    name: (url, f"_inventories/{name}.inv" if _OFFLINE else (None, f"_inventories/{name}.inv"))
    for name, url in _DOCS_URLS.items()
}
intersphinx_timeout = 10

# numpydoc turns parameter types into links; "all" links only the aliases (its own
# defaults for int, str, None, array-like... plus these), never a stray word
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"
numpydoc_xref_aliases = {
    # skorch documents its nets under skorch.classifier (what the real inventory has)
    **{
        f"skorch.{net}": f":class:`skorch.{net} <skorch.classifier.{net}>`"
        for net in ("NeuralNetClassifier", "NeuralNetBinaryClassifier")
    },
    "joblib.Memory": ":class:`joblib.Memory`",
    "path-like": ":term:`path-like <python:path-like object>`",
}

# Pages whose content (the benchmark tables, 140-160 characters wide) needs the whole
# window: no left column (on these top-level pages it only held an empty "Section
# Navigation"), no right-hand "on this page" column, and _static/wide_page.css (added
# to these pages only, in setup() below), which lifts the theme's 60em cap on the text
# column and fits wide literal blocks and tables in it (checked at 1280 px by
# tests/test_docs_offline.py).
WIDE_PAGES = ("results",)
html_sidebars = {page: [] for page in WIDE_PAGES}

html_theme = "pydata_sphinx_theme"
html_title = "fairif_sklearn"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": {
        "**": ["page-toc", "edit-this-page", "sourcelink"],  # the theme's default
        **{page: [] for page in WIDE_PAGES},
    },
}
html_static_path = ["_static"]
html_show_sourcelink = False


def _reset_torch(gallery_conf, fname):
    """Each example starts from the same torch state, on the cores not busy with other work.

    The examples' nets are small: on a shared machine extra threads only wait
    for each other (see the README's run times).
    """
    import torch

    from fairif_sklearn._runtime import free_cores

    torch.manual_seed(0)
    torch.set_num_threads(min(free_cores(), torch.get_num_threads()))


sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "abort_on_example_error": True,
    "reset_modules": ("matplotlib", "seaborn", _reset_torch),
    "doc_module": ("fairif_sklearn",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"fairif_sklearn": None},
    "download_all_examples": False,
    "run_stale_examples": True,  # the library may have changed even if an example has not
}


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods (documented upstream)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _wide_page_css(app, pagename, templatename, context, doctree):
    """Load wide_page.css on the WIDE_PAGES only (an asset added during this event is per page)."""
    if pagename in WIDE_PAGES:
        app.add_css_file("wide_page.css")


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
    app.connect("html-page-context", _wide_page_css)
