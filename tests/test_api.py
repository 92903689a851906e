"""The public API is exactly what doc/api.rst lists, and everything else is private by name."""

import importlib
import pkgutil
import re
from pathlib import Path

import fairif_sklearn

API_RST = Path(__file__).parents[1] / "doc" / "api.rst"
PUBLIC_MODULES = [
    "fairif_sklearn",
    "fairif_sklearn.metrics",
    "fairif_sklearn.model_selection",
    "fairif_sklearn.datasets",
    "fairif_sklearn.nets",
    "fairif_sklearn.inspection",
    "fairif_sklearn.baselines",
]


def documented_names() -> set[tuple[str, str]]:
    """(module, name) for every autosummary entry and ``.. data::`` of api.rst."""
    names, module, in_autosummary = set(), None, False
    for line in API_RST.read_text().splitlines():
        if m := re.match(r"\.\. (?:current)?module:: (\S+)", line):
            module = m.group(1)
        elif m := re.match(r"\.\. data:: (\S+)", line):
            names.add((module, m.group(1)))
        elif line.startswith(".. autosummary::"):
            in_autosummary = True
        elif in_autosummary and (m := re.match(r"   ([A-Za-z_]\w*)$", line)):
            names.add((module, m.group(1)))
        elif line and not line.startswith(" "):
            in_autosummary = False
    return names


def exported_names() -> set[tuple[str, str]]:
    return {
        (module, name)
        for module in PUBLIC_MODULES
        for name in importlib.import_module(module).__all__
        if name != "__version__"
    }


def test_api_page_lists_exactly_the_exported_names():
    assert documented_names() == exported_names()


def test_every_other_module_is_private_by_name():
    public = {
        name for _, name, _ in pkgutil.iter_modules(fairif_sklearn.__path__) if not name.startswith("_")
    }
    # bench is the fairif-bench command (documented in the README), not an API
    assert public == {m.split(".")[1] for m in PUBLIC_MODULES[1:]} | {"bench"}
