"""Regenerate the intersphinx inventories committed next to this script.

Why: ``sphinx.ext.intersphinx`` links ``:class:`~sklearn.pipeline.Pipeline``` and
friends to the other projects' documentation by reading each project's
``objects.inv``. The docs are built offline (CI reaches the package registries
only), where those files cannot be downloaded, and no package on PyPI ships
them. So this script writes small inventories from the *installed* packages:
it lists their public classes, functions and modules and maps each name onto
the URL layout that the project's real documentation uses, e.g.

* scikit-learn ``modules/generated/sklearn.pipeline.Pipeline.html#sklearn.pipeline.Pipeline``
* fairlearn ``api_reference/generated/fairlearn.reductions.ExponentiatedGradient.html#...``
* skorch ``classifier.html#skorch.classifier.NeuralNetClassifier``
* PyTorch ``generated/torch.func.jvp.html#torch.func.jvp``, ``data.html#torch.utils.data.DataLoader``
* joblib ``generated/joblib.Memory.html#joblib.Memory``
* NumPy ``reference/generated/numpy.mean.html#numpy.mean``
* Python ``library/pathlib.html#pathlib.Path``

Objects are also listed under the module that defines them when that differs
(``sklearn.utils._bunch.Bunch``, ``skorch.classifier.NeuralNetClassifier`` as
``skorch.NeuralNetClassifier``): autodoc writes annotations with the defining
module, docstrings often use the shorter public path. Those aliases get
priority -1 (never shown in a search), and point to the public page.

Only links are affected by a stale inventory (a new upstream object is simply
not linked), never the build. Dev-only; needs ``sphobjinv`` (``pip install
sphobjinv``) and the docs extra. Run from anywhere::

    python doc/_inventories/make_inventories.py

and commit the ``*.inv`` files it rewrites.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import sys
from pathlib import Path

import sphobjinv as soi

HERE = Path(__file__).resolve().parent

# the estimator API every scikit-learn-like class documents; methods of other
# names are left out to keep the inventories small
ESTIMATOR_METHODS = {
    "fit", "partial_fit", "predict", "predict_proba", "predict_log_proba",
    "decision_function", "transform", "fit_transform", "fit_predict",
    "inverse_transform", "score", "score_samples", "get_params", "set_params",
    "get_metadata_routing", "get_feature_names_out", "split", "get_n_splits",
}  # fmt: skip


class Inv:
    """Collects (domain, role, name) -> (uri, priority); the first uri given for a name wins."""

    def __init__(self, project: str, version: str):
        self.project, self.version = project, version
        self.objects: dict[tuple[str, str, str], tuple[str, str]] = {}

    def add(self, name: str, role: str, uri: str, *, domain: str = "py", priority: str = "1"):
        key = (domain, role, name)
        if key not in self.objects or (self.objects[key][1] == "-1" and priority != "-1"):
            self.objects[key] = (uri, priority)  # a documented name beats an alias

    def alias(self, name: str, role: str, uri: str):
        self.add(name, role, uri, priority="-1")

    def write(self, filename: str) -> int:
        inv = soi.Inventory()
        inv.project, inv.version = self.project, self.version
        for (domain, role, name), (uri, priority) in sorted(self.objects.items()):
            inv.objects.append(
                soi.DataObjStr(name=name, domain=domain, role=role, priority=priority, uri=uri, dispname="-")
            )
        data = soi.compress(inv.data_file(contract=True))
        soi.writebytes(HERE / filename, data)
        return len(inv.objects)


def _role(obj) -> str | None:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return None


def _public(module, names=None):
    """(name, object) for the public names of a module: its ``__all__``, else what it defines."""
    names = getattr(module, "__all__", None) if names is None else names
    only_own = names is None  # without __all__, imported names are not the module's API
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    for name in names:
        if name.startswith("_"):
            continue
        try:
            obj = getattr(module, name)
        except AttributeError:
            continue
        if inspect.ismodule(obj):
            continue
        defined_in = getattr(obj, "__module__", None)
        if only_own and isinstance(defined_in, str) and not defined_in.startswith(module.__name__):
            continue
        yield name, obj


def _defining_name(obj) -> str | None:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        return f"{module}.{qualname}"
    return None


def _add_with_alias(inv: Inv, name: str, obj, role: str, uri: str):
    inv.add(name, role, uri)
    real = _defining_name(obj)
    if real and real != name:
        inv.alias(real, role, uri)


def _methods(cls, names=None):
    """Public methods of a class (all of them, or only those in ``names``)."""
    for attr in dir(cls):
        if attr.startswith("_") or (names is not None and attr not in names):
            continue
        try:
            member = inspect.getattr_static(cls, attr)
        except AttributeError:
            continue
        if (
            isinstance(member, (staticmethod, classmethod))
            or inspect.isfunction(member)
            or inspect.ismethoddescriptor(member)
        ):
            yield attr


# --------------------------------------------------------------------- sklearn
SKLEARN_SUBMODULES = {
    "feature_extraction": ["image", "text"],
    "gaussian_process": ["kernels"],
    "metrics": ["cluster"],
    "utils": [
        "validation", "multiclass", "extmath", "metaestimators", "class_weight",
        "estimator_checks", "discovery", "parallel", "metadata_routing", "random",
        "sparsefuncs", "graph", "stats",
    ],
}  # fmt: skip


def sklearn_inventory() -> Inv:
    import sklearn

    inv = Inv("scikit-learn", sklearn.__version__)
    inv.add("sklearn", "module", "api/sklearn.html#module-sklearn")

    def add_module(modname: str, page: str):
        module = importlib.import_module(modname)
        inv.add(modname, "module", f"api/{page}.html#module-{modname}")
        for name, obj in _public(module):
            role = _role(obj)
            if role is None:
                continue
            full = f"{modname}.{name}"
            uri = f"modules/generated/{full}.html#{full}"
            _add_with_alias(inv, full, obj, role, uri)
            if inspect.isclass(obj):
                for meth in _methods(obj, ESTIMATOR_METHODS):
                    inv.add(f"{full}.{meth}", "method", f"{uri}.{meth}")

    # sklearn.__all__ names most submodules (not base and utils) and a few functions
    for name in ["base", "utils", *sklearn.__all__]:
        if name == "externals":  # vendored code, not documented
            continue
        obj = getattr(sklearn, name, None)
        if obj is None or inspect.ismodule(obj) or name in SKLEARN_SUBMODULES:
            modname = f"sklearn.{name}"
            try:
                add_module(modname, modname)
            except ImportError:
                continue
            for sub in SKLEARN_SUBMODULES.get(name, []):
                try:
                    add_module(f"{modname}.{sub}", modname)
                except ImportError:
                    pass
        else:
            full = f"sklearn.{name}"
            _add_with_alias(inv, full, obj, _role(obj), f"modules/generated/{full}.html#{full}")
    return inv


# ------------------------------------------------------------------- fairlearn
def fairlearn_inventory() -> Inv:
    import fairlearn

    inv = Inv("Fairlearn", fairlearn.__version__)
    for short in ("metrics", "reductions", "postprocessing", "preprocessing", "adversarial", "datasets"):
        modname = f"fairlearn.{short}"
        try:
            module = importlib.import_module(modname)
        except ImportError:
            continue
        inv.add(modname, "module", f"api_reference/{modname}.html#module-{modname}")
        for name, obj in _public(module):
            role = _role(obj)
            if role is None:
                continue
            full = f"{modname}.{name}"
            uri = f"api_reference/generated/{full}.html#{full}"
            _add_with_alias(inv, full, obj, role, uri)
            if inspect.isclass(obj):
                for meth in _methods(
                    obj,
                    ESTIMATOR_METHODS | {"by_group", "difference", "ratio", "overall", "load_data", "gamma"},
                ):
                    inv.add(f"{full}.{meth}", "method", f"{uri}.{meth}")
    return inv


# ---------------------------------------------------------------------- skorch
SKORCH_PAGES = ("callbacks", "classifier", "dataset", "exceptions", "helper", "history",
                "net", "regressor", "probabilistic", "scoring", "toy", "utils")  # fmt: skip


def skorch_inventory() -> Inv:
    import skorch

    inv = Inv("skorch", skorch.__version__)
    pages = {}
    for short in SKORCH_PAGES:
        modname = f"skorch.{short}"
        try:
            module = importlib.import_module(modname)
        except ImportError:
            continue
        page = f"{short}.html"
        inv.add(modname, "module", f"{page}#module-{modname}")
        # ``automodule:: skorch.<page> :members:`` documents __all__ when there is
        # one (skorch.callbacks), else what the module itself defines
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n, o in vars(module).items() if getattr(o, "__module__", None) == modname]
        for name, obj in _public(module, names):
            role = _role(obj)
            if role is None:
                continue
            full = f"{modname}.{name}"
            uri = f"{page}#{full}"
            _add_with_alias(inv, full, obj, role, uri)
            pages[obj] = (full, uri, role)
            if inspect.isclass(obj):
                for meth in _methods(obj):
                    if meth in vars(obj):  # autodoc without :inherited-members:
                        inv.add(f"{full}.{meth}", "method", f"{uri}.{meth}")
    # ``from skorch import NeuralNetClassifier``: the short path docstrings use
    for name, obj in _public(skorch):
        if obj in pages:
            full, uri, role = pages[obj]
            inv.alias(f"skorch.{name}", role, uri)
    return inv


# ----------------------------------------------------------------------- torch
def torch_inventory() -> Inv:
    import torch
    import torch.nn
    import torch.nn.functional
    import torch.optim
    import torch.optim.lr_scheduler
    import torch.utils.data

    inv = Inv("PyTorch", torch.__version__.split("+")[0])
    gen = "generated/{0}.html#{0}"

    inv.add("torch", "module", "torch.html#module-torch")
    inv.add("torch.Tensor", "class", "tensors.html#torch.Tensor")
    for name in ("device", "dtype", "layout", "memory_format"):
        inv.add(f"torch.{name}", "class", f"tensor_attributes.html#torch.{name}")
    for name in ("Generator", "no_grad", "enable_grad", "inference_mode", "set_grad_enabled"):
        inv.add(f"torch.{name}", "class", gen.format(f"torch.{name}"))
    for name, obj in _public(torch, torch.__all__):
        if not inspect.isclass(obj) and callable(obj) and obj.__doc__:
            inv.add(f"torch.{name}", "function", gen.format(f"torch.{name}"))

    # torch.nn: classes on generated pages; a few live under their defining module
    inv.add("torch.nn", "module", "nn.html#module-torch.nn")
    special = {"Parameter": "torch.nn.parameter.Parameter", "Buffer": "torch.nn.parameter.Buffer",
               "UninitializedParameter": "torch.nn.parameter.UninitializedParameter",
               "UninitializedBuffer": "torch.nn.parameter.UninitializedBuffer",
               "Flatten": "torch.nn.modules.flatten.Flatten",
               "Unflatten": "torch.nn.modules.flatten.Unflatten"}  # fmt: skip
    for name, obj in _public(torch.nn, [n for n in dir(torch.nn) if n[:1].isupper()]):
        if not inspect.isclass(obj):
            continue
        canonical = special.get(name, f"torch.nn.{name}")
        uri = gen.format(canonical)
        inv.add(canonical, "class", uri)
        if canonical != f"torch.nn.{name}":
            inv.alias(f"torch.nn.{name}", "class", uri)
        real = _defining_name(obj)
        if real and real not in (canonical, f"torch.nn.{name}"):
            inv.alias(real, "class", uri)
    for meth in _methods(torch.nn.Module):
        inv.add(f"torch.nn.Module.{meth}", "method", f"{gen.format('torch.nn.Module')}.{meth}")
    inv.add("torch.nn.functional", "module", "nn.functional.html#module-torch.nn.functional")
    for name, obj in _public(
        torch.nn.functional, [n for n in dir(torch.nn.functional) if not n.startswith("_")]
    ):
        if inspect.isfunction(obj) or inspect.isbuiltin(obj):
            inv.add(f"torch.nn.functional.{name}", "function", gen.format(f"torch.nn.functional.{name}"))

    # torch.optim
    inv.add("torch.optim", "module", "optim.html#module-torch.optim")
    inv.add("torch.optim.Optimizer", "class", "optim.html#torch.optim.Optimizer")
    for meth in ("add_param_group", "load_state_dict", "state_dict", "step", "zero_grad"):
        inv.add(f"torch.optim.Optimizer.{meth}", "method", gen.format(f"torch.optim.Optimizer.{meth}"))
    for name, obj in _public(torch.optim):
        if inspect.isclass(obj) and name != "Optimizer":
            inv.add(f"torch.optim.{name}", "class", gen.format(f"torch.optim.{name}"))
    inv.add("torch.optim.lr_scheduler", "module", "optim.html#module-torch.optim.lr_scheduler")
    for name, obj in _public(torch.optim.lr_scheduler):
        if inspect.isclass(obj):
            inv.add(
                f"torch.optim.lr_scheduler.{name}", "class", gen.format(f"torch.optim.lr_scheduler.{name}")
            )

    # torch.func: the API page and its generated function pages
    import torch.func

    inv.add("torch.func", "module", "func.api.html#module-torch.func")
    for name, obj in _public(torch.func):
        if callable(obj) and name != "rearrange":
            inv.add(f"torch.func.{name}", "function", gen.format(f"torch.func.{name}"))

    # torch.utils.data: autodoc'ed on one page
    inv.add("torch.utils.data", "module", "data.html#module-torch.utils.data")
    for name, obj in _public(torch.utils.data):
        if "DataPipe" in name or name in ("DataChunk", "functional_datapipe", "argument_validation",
                                          "guaranteed_datapipes_determinism", "non_deterministic",
                                          "runtime_validation", "runtime_validation_disabled"):  # fmt: skip
            continue
        role = _role(obj)
        if role:
            full = (
                "torch.utils.data.distributed.DistributedSampler"
                if name == "DistributedSampler"
                else f"torch.utils.data.{name}"
            )
            inv.add(full, role, f"data.html#{full}")
            if full != f"torch.utils.data.{name}":
                inv.alias(f"torch.utils.data.{name}", role, f"data.html#{full}")
    return inv


# ---------------------------------------------------------------------- joblib
def joblib_inventory() -> Inv:
    import joblib

    inv = Inv("joblib", joblib.__version__)
    inv.add("joblib", "module", "index.html#module-joblib")
    for name, obj in _public(joblib):
        role = _role(obj)
        if role is None:
            continue
        full = f"joblib.{name}"
        uri = f"generated/{full}.html#{full}"
        _add_with_alias(inv, full, obj, role, uri)
        if inspect.isclass(obj):
            for meth in _methods(obj):
                if meth in vars(obj):
                    inv.add(f"{full}.{meth}", "method", f"{uri}.{meth}")
    return inv


# ----------------------------------------------------------------------- numpy
def numpy_inventory() -> Inv:
    import numpy as np
    import numpy.random
    import numpy.typing

    inv = Inv("NumPy", np.__version__)
    gen = "reference/generated/{0}.html#{0}"
    inv.add("numpy", "module", "reference/index.html#module-numpy")
    for name, obj in _public(np, [n for n in dir(np) if not n.startswith("_")]):
        full = f"numpy.{name}"
        if inspect.isclass(obj):
            if issubclass(obj, np.generic):  # scalar types share one page
                inv.add(full, "class", f"reference/arrays.scalars.html#{full}")
            elif not issubclass(obj, BaseException):
                inv.add(full, "class", gen.format(full))
        elif callable(obj):  # functions and ufuncs
            inv.add(full, "function", gen.format(full))
        elif name in ("pi", "e", "inf", "nan", "newaxis", "euler_gamma"):
            inv.add(full, "data", f"reference/constants.html#{full}")
    for meth in dir(np.ndarray):
        if meth.startswith("_"):
            continue
        member = inspect.getattr_static(np.ndarray, meth)
        role = "attribute" if type(member).__name__ == "getset_descriptor" else "method"
        inv.add(f"numpy.ndarray.{meth}", role, gen.format(f"numpy.ndarray.{meth}"))
    inv.add("numpy.exceptions", "module", "reference/routines.exceptions.html#module-numpy.exceptions")
    for name, obj in _public(np.exceptions):
        inv.add(f"numpy.exceptions.{name}", _role(obj), gen.format(f"numpy.exceptions.{name}"))
    # numpy.random: Generator API and the legacy RandomState
    inv.add("numpy.random", "module", "reference/random/index.html#module-numpy.random")
    inv.add("numpy.random.Generator", "class", "reference/random/generator.html#numpy.random.Generator")
    inv.add(
        "numpy.random.default_rng", "function", "reference/random/generator.html#numpy.random.default_rng"
    )
    inv.add("numpy.random.RandomState", "class", "reference/random/legacy.html#numpy.random.RandomState")
    for cls in ("Generator", "RandomState"):
        for meth in _methods(getattr(np.random, cls)):
            full = f"numpy.random.{cls}.{meth}"
            inv.add(full, "method", f"reference/random/generated/{full}.html#{full}")
    for name in ("SeedSequence", "BitGenerator", "PCG64", "MT19937", "Philox", "SFC64"):
        full = f"numpy.random.{name}"
        inv.add(full, "class", f"reference/random/bit_generators/generated/{full}.html#{full}")
    for name, obj in _public(np.random, [n for n in dir(np.random) if n[:1].islower()]):
        if callable(obj) and not inspect.isclass(obj) and name != "default_rng":
            full = f"numpy.random.{name}"
            inv.add(full, "function", f"reference/random/generated/{full}.html#{full}")
    # annotations: listed as classes so that autodoc's type references find them
    inv.add("numpy.typing", "module", "reference/typing.html#module-numpy.typing")
    for name in ("ArrayLike", "DTypeLike", "NDArray", "NBitBase"):
        inv.add(f"numpy.typing.{name}", "class", f"reference/typing.html#numpy.typing.{name}")
    # what numpydoc's default type aliases point at (numpydoc_xref_param_type)
    inv.add("array_like", "term", "glossary.html#term-array_like", domain="std")
    inv.add("arrays.scalars", "label", "reference/arrays.scalars.html#arrays-scalars", domain="std")
    return inv


# ---------------------------------------------------------------------- python
PY_MODULES = (
    "abc", "argparse", "collections", "collections.abc", "contextlib", "copy",
    "dataclasses", "enum", "functools", "gzip", "hashlib", "inspect", "io",
    "itertools", "json", "logging", "math", "numbers", "os", "os.path", "pathlib",
    "pickle", "random", "shutil", "sys", "tempfile", "time", "typing",
    "urllib.request", "warnings", "zipfile",
)  # fmt: skip
# documented names that a module's __all__ leaves out
PY_EXTRA = {"os": ["PathLike", "fspath", "fsencode", "fsdecode"]}
PY_STDTYPES = (
    "str",
    "list",
    "tuple",
    "dict",
    "set",
    "frozenset",
    "bytes",
    "bytearray",
    "memoryview",
    "range",
)
PY_TERMS = (
    "iterable", "iterator", "sequence", "generator", "mapping", "hashable", "callable",
    "path-like object", "file object", "context manager", "decorator", "keyword argument",
    "positional argument", "duck-typing", "dictionary",
)  # fmt: skip


def python_inventory() -> Inv:
    inv = Inv("Python", f"{sys.version_info.major}.{sys.version_info.minor}")
    for name in dir(builtins):
        obj = getattr(builtins, name)
        if name.startswith("_"):
            continue
        if name in ("None", "True", "False", "NotImplemented", "Ellipsis"):
            inv.add(name, "data", f"library/constants.html#{name}")
        elif inspect.isclass(obj) and issubclass(obj, BaseException):
            inv.add(name, "exception", f"library/exceptions.html#{name}")
        elif name in PY_STDTYPES:
            inv.add(name, "class", f"library/stdtypes.html#{name}")
        elif inspect.isclass(obj):
            inv.add(name, "class", f"library/functions.html#{name}")
        elif callable(obj):
            inv.add(name, "function", f"library/functions.html#{name}")
    for modname in PY_MODULES:
        module = importlib.import_module(modname)
        page = f"library/{modname}.html"
        inv.add(modname, "module", f"{page}#module-{modname}")
        names = getattr(module, "__all__", None)
        names = None if names is None else [*names, *PY_EXTRA.get(modname, [])]
        for name, obj in _public(module, names):
            full = f"{modname}.{name}"
            role = _role(obj) or "data"
            inv.add(full, role, f"{page}#{full}")
            if modname == "pathlib" and inspect.isclass(obj):
                for meth in _methods(obj):
                    inv.add(f"{full}.{meth}", "method", f"{page}#{full}.{meth}")
    inv.add("bltin-boolean-values", "label", "library/stdtypes.html#bltin-boolean-values", domain="std")
    for term in PY_TERMS:
        inv.add(term, "term", "glossary.html#term-" + term.replace(" ", "-"), domain="std")
    return inv


INVENTORIES = {
    "python.inv": python_inventory,
    "numpy.inv": numpy_inventory,
    "sklearn.inv": sklearn_inventory,
    "skorch.inv": skorch_inventory,
    "fairlearn.inv": fairlearn_inventory,
    "torch.inv": torch_inventory,
    "joblib.inv": joblib_inventory,
}


def main():
    for filename, make in INVENTORIES.items():
        inv = make()
        count = inv.write(filename)
        size = (HERE / filename).stat().st_size
        print(f"{filename}: {inv.project} {inv.version}, {count} objects, {size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
