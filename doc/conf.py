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

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    "fairlearn": ("https://fairlearn.org/main", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
}
# offline builds (CI has no internet but the package registries) skip the links
if os.environ.get("FAIRIF_DOCS_OFFLINE", "1") == "1":
    intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = "fairif_sklearn"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False


def _reset_torch(gallery_conf, fname):
    """Each example starts from the same torch state and uses at most two threads."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(min(2, torch.get_num_threads()))


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


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
