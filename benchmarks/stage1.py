"""``python benchmarks/stage1.py``: what stage 1 costs, measured (a developer tool).

It times the library's private stage-1 pieces one by one, so it imports them by
their private names (``fairif_sklearn._influence`` and friends); users never do.

Prints, as medians over repeats and as ratios measured in the same run:

* stage 1 (given the ERM model: gaps, the two inverse-curvature solves, the
  influence scores and the weight solve) against one ERM training epoch of the
  same net on the same data, for a tabular MLP and the CI-MNIST MLP;
* ``--parts nets``: the CI-MNIST MLP, the default CNN and the ResNet-18
  layout with BatchNorm on the same CI-MNIST rows: stage 1 against one ERM
  epoch, and a whole default fit against the ERM fit (needs the real data);
* the forward-mode JVP influence scores against materialised per-sample
  gradients (``vmap(grad(...))``, the usual way) for the same scores: time, peak
  memory (each in a fresh process) and agreement;
* each influence back end: time, and agreement of its predicted gap change with
  the exact solve's;
* ``GridSearchCV`` over ``alpha`` with and without ``memory=`` (stage 1 once
  per fold instead of once per grid point): time, and identical results;
* growth with the number of rows: stage-1 time and peak memory.

``--device cuda`` runs the same on a GPU; memory is then the GPU's peak
allocation (``torch.cuda.max_memory_allocated``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import replace

import numpy as np
import torch

from fairif_sklearn import FairIFClassifier, FairIFClassifierCV, FairIFWeigher, WeightedNetClassifier
from fairif_sklearn._influence import AnnotatedGaps, compute_influence, influence_scores
from fairif_sklearn._rates import target_rates
from fairif_sklearn._skorch import NetFunctions, fit_net
from fairif_sklearn._weights import solve_weights
from fairif_sklearn.nets import make_mlp_classifier

# set from the command line by main(), and passed on to the measuring subprocesses
_SETTINGS = {"threads": 2, "device": "cpu"}


def configure(threads: int, device: str) -> None:
    """Set the torch CPU threads and the device of the nets for this process."""
    _SETTINGS.update(threads=threads, device=device)
    torch.set_num_threads(threads)


def _data(kind: str, n: int, seed: int = 0):
    """Tabular (20 features) or CI-MNIST-shaped (3x32x32) inputs with a group-dependent label."""
    rng = np.random.RandomState(seed)
    shape = (20,) if kind == "tabular" else (3, 32, 32)
    X = rng.normal(size=(n, *shape)).astype(np.float32)
    flat = X.reshape(n, -1)
    s = (rng.uniform(size=n) < 0.2).astype(np.int64)
    logit = flat[:, 0] + np.where(s == 1, flat[:, 1], flat[:, 2]) + 0.5 * rng.normal(size=n)
    return X, (logit > 0).astype(np.int64), s


def _net(kind: str, n_features: int, epochs: int):
    return make_mlp_classifier(
        n_features, hidden=(64,), max_epochs=epochs, batch_size=256, lr=1e-3, device=_SETTINGS["device"]
    )


def _on_gpu() -> bool:
    return torch.device(_SETTINGS["device"]).type == "cuda"


def _sync() -> None:
    if _on_gpu():
        torch.cuda.synchronize()


def _fitted(kind: str, n: int, epochs: int = 2):
    X, y, s = _data(kind, n)
    n_val = min(5000, n // 10)
    net = _net(kind, int(np.prod(X.shape[1:])), epochs)
    torch.manual_seed(0)
    fit_net(net, X[n_val:], y[n_val:])
    return net, X[n_val:], y[n_val:], X[:n_val], y[:n_val], s[:n_val]


def _reset_peak_memory() -> float:
    """Reset the peak memory (the GPU's on CUDA, else the process's resident); the current MB."""
    if _on_gpu():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated() / 2**20
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _proc_status_mb("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _proc_status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise OSError(field)


def _peak_memory_mb() -> float:
    if _on_gpu():
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        return _proc_status_mb("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn, repeats: int = 1):
    """The median wall time of ``repeats`` calls of ``fn`` (GPU work included), and the last result."""
    times, out = [], None
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        out = fn()
        _sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _timed_side_by_side(fns: list, repeats: int, warm_up=None) -> list[tuple[float, object]]:
    """``_timed`` for several functions whose calls take turns, so that a change of the
    machine's load in the meantime weighs on each alike; per function, the median and last result.
    ``warm_up()``, when given, runs first, untimed: what a process pays once (imports, first
    allocations) is then charged to none of them."""
    if warm_up is not None:
        with warnings.catch_warnings():  # a warm-up on a few rows may warn; it is not measured
            warnings.simplefilter("ignore")
            warm_up()
    runs = [[] for _ in fns]
    for _ in range(repeats):
        for fn, times in zip(fns, runs, strict=True):
            times.append(_timed(fn))
    return [(statistics.median(t for t, _ in times), times[-1][1]) for times in runs]


def _stage1(net, X, y, X_val, y_val, s_val, random_state=0, **settings):
    """Stage 1 given the ERM net, with the estimators' defaults for what ``settings`` does not set."""
    settings = replace(FairIFWeigher(None)._influence_settings(), **settings)
    rng = np.random.RandomState(random_state)
    rates = target_rates("equalized_odds", np.array([0, 1]))
    gaps_of = AnnotatedGaps(X_val, y_val, s_val, ["0", "1"], rates, 1.0, settings.batch_size)
    result = compute_influence(NetFunctions(net), X, y, gaps_of, settings, random_state=rng)
    return result, solve_weights(result.scores, result.gaps, 0.1)


def _real_ci_mnist():
    """CI-MNIST (group shift) and the benchmark's net trained on it, or None without the data."""
    from fairif_sklearn.bench._datasets import ci_mnist

    try:
        d = ci_mnist(0, bias="group_shift", device=_SETTINGS["device"])
    except FileNotFoundError:
        return None
    net = d.make_net()
    torch.manual_seed(0)
    fit_net(net, d.X_train, d.y_train)
    return net, d.X_train, d.y_train, d.X_valid, d.y_valid, d.s_valid


def stage1_vs_epoch(kind: str, n: int, repeats: int, fitted=None, **kw) -> dict:
    """Median stage-1 time against the median time of one ERM epoch of the same net on the same rows."""
    net, X, y, X_val, y_val, s_val = fitted or _fitted(kind, n)
    epoch_net = _net(kind, int(np.prod(X.shape[1:])), 1)
    (epoch, _), (stage1, (result, _)) = _timed_side_by_side(
        [lambda: fit_net(epoch_net, X, y), lambda: _stage1(net, X, y, X_val, y_val, s_val, **kw)], repeats
    )
    settings = {k: v for k, v in kw.items() if k != "random_state"}
    n_params = NetFunctions(net).n_params()
    return {"data": kind, "n_train": len(y), "n_annotated": len(y_val), "n_params": n_params,
            "erm_epoch_s": epoch, "stage1_s": stage1, "stage1_in_epochs": stage1 / epoch,
            "cg_iterations": result.solve.n_iter, "damping": result.damping,
            "settings": settings}  # fmt: skip


def _annotated(kind: str, n: int, real):
    """Training rows and an annotated set: CI-MNIST (group shift) when ``real``, else tabular rows."""
    if real:
        _, X, y, X_val, y_val, s_val = real
        return X, y, X_val, y_val, s_val
    X, y, s = _data(kind, n)
    n_val = min(5000, n // 10)
    return X[n_val:], y[n_val:], X[:n_val], y[:n_val], s[:n_val]


def whole_fit_vs_erm(kind: str, n: int, repeats: int, real=None, with_cv: bool = True) -> dict:
    """A whole default ``FairIFClassifier.fit`` against one ERM fit of the same net on the same rows.

    Beside them, the one-round variant (``max_rounds=1``), so that the cost of the default's
    second round, where it runs, is measured in the same run. Side by side (the repeats take
    turns), medians over ``repeats``; ``FairIFClassifierCV`` (its default three folds) once, as
    the selecting variant (unless ``with_cv`` is False).
    """
    X, y, X_val, y_val, s_val = _annotated(kind, n, real)
    n_features = int(np.prod(X.shape[1:]))
    epochs = 15 if real else 10
    annotated = dict(X_val=X_val, y_val=y_val, sensitive_val=s_val, random_state=0)
    (erm, _), (fit, clf), (one_round, _) = _timed_side_by_side(
        [
            lambda: WeightedNetClassifier(_net(kind, n_features, epochs), random_state=0).fit(X, y),
            lambda: FairIFClassifier(_net(kind, n_features, epochs), **annotated).fit(X, y),
            lambda: FairIFClassifier(_net(kind, n_features, epochs), max_rounds=1, **annotated).fit(X, y),
        ],
        repeats,
        warm_up=lambda: FairIFClassifier(_net(kind, n_features, 1), **annotated).fit(X[:512], y[:512]),
    )
    cv_seconds, cv = (
        _timed(
            lambda: FairIFClassifierCV(FairIFClassifier(_net(kind, n_features, epochs), **annotated)).fit(
                X, y
            )
        )
        if with_cv
        else (float("nan"), None)
    )
    return {"data": kind, "n_train": len(y), "epochs": epochs, "erm_fit_s": erm, "fairif_fit_s": fit,
            "fairif_in_erm_fits": fit / erm,
            "one_round_fit_s": one_round, "one_round_in_erm_fits": one_round / erm,
            "reweighted": bool(clf.reweighted_), "damping": clf.damping_,
            "rounds": len(clf.rounds_), "materialization": clf.materialization_.tolist(),
            "cv_fit_s": cv_seconds, "cv_in_erm_fits": cv_seconds / erm,
            "cv_rounds_chosen": None if cv is None else cv.n_rounds_}  # fmt: skip


def backends(kind: str, n: int, repeats: int) -> list[dict]:
    """Each back end's time and the agreement of its predicted gap change with the exact solve's."""
    net, X, y, X_val, y_val, s_val = _fitted(kind, n, epochs=10)
    settings = {
        "exact": dict(method="exact"),
        "last_layer": dict(method="last_layer"),
        "cg (Gauss-Newton)": dict(method="cg", curvature="gauss_newton"),
        "cg (Hessian, damping 0.01)": dict(method="cg", curvature="hessian", damping=0.01),
        "cg (Gauss-Newton, 20% subsample)": dict(method="cg", curvature_subsample=0.2, random_state=0),
        "cg (Hessian 0.01, 20% subsample)": dict(
            method="cg", curvature="hessian", damping=0.01, curvature_subsample=0.2, random_state=0
        ),
        "exact (Hessian, damping 0.01)": dict(method="exact", curvature="hessian", damping=0.01),
    }  # fmt: skip
    rows, reference = [], None
    for name, kw in settings.items():
        kw = {"curvature": "gauss_newton", **kw}
        try:
            seconds, (result, solution) = _timed(
                lambda kw=kw: _stage1(net, X, y, X_val, y_val, s_val, **kw), repeats
            )
        except ValueError as error:  # an indefinite Hessian
            rows.append({"backend": name, "error": str(error)})
            continue
        change = solution.predicted_gaps - result.gaps
        if reference is None:
            reference = (result.scores, change)
        corr = float(np.corrcoef(result.scores.ravel(), reference[0].ravel())[0, 1])
        rel = float(np.linalg.norm(change - reference[1]) / np.linalg.norm(reference[1]))
        rows.append({"backend": name, "seconds": seconds, "score_correlation_with_exact": corr,
                     "gap_change_rel_diff_vs_exact": rel, "n_iter": result.solve.n_iter,
                     "negative_curvature": result.solve.negative_curvature})  # fmt: skip
    return rows


def _scores_job(kind: str, n: int, how: str, batch_size: int = 1024) -> dict:
    """One way of computing the scores of ``n`` rows, run in a fresh process for its peak memory.

    The net is trained briefly on a small subset first, so the process's peak
    before the scores is small next to what the scores need.
    """
    net, *_ = _fitted(kind, 2000, epochs=1)
    X, y, _ = _data(kind, n, seed=1)
    model = NetFunctions(net)
    gen = torch.Generator().manual_seed(0)
    V = torch.randn(2, model.n_params(), dtype=torch.float64, generator=gen).to(model.device)
    if how == "jvp":

        def compute(X, y):
            return influence_scores(model, X, y, list(model.params), V, batch_size=batch_size)

    else:  # materialised per-sample gradients: all n x p at once ("full") or batch x p at a time

        def loss(params, x, t):
            return model.losses(params, x[None], t[None])[0]

        per_sample = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
        Vm = V.to(torch.float32)

        def compute(X, y):
            n = len(y)
            step = n if how == "per_sample_full" else batch_size
            scores = np.empty((2, n))
            with model.eval_mode():
                for lo in range(0, n, step):
                    rows = slice(lo, min(lo + step, n))
                    grads = per_sample(model.params, model.inputs(X, rows), model.targets(y, rows))
                    G = torch.cat([g.reshape(g.shape[0], -1) for g in grads.values()], dim=1)
                    scores[:, rows] = (Vm @ G.T).double().cpu().numpy()
            return scores

    compute(X[:64], y[:64])  # warm-up: the first call of torch.func traces and allocates
    before = _reset_peak_memory()
    seconds, scores = _timed(lambda: compute(X, y))
    peak_mb = _peak_memory_mb() - before
    np.save(f"{tempfile.gettempdir()}/fairif_scores_{kind}_{how}.npy", scores)
    return {"how": how, "seconds": seconds, "peak_extra_mb": peak_mb}


def _in_subprocess(fn_name: str, *args) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import json, sys; sys.path.insert(0, {here!r}); import stage1; "
            f"stage1.configure({_SETTINGS['threads']!r}, {_SETTINGS['device']!r}); "
            f"print(json.dumps(stage1.{fn_name}(*{args!r})))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{fn_name}{args!r} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def jvp_vs_per_sample_gradients(kind: str, n: int, repeats: int, hows: tuple[str, ...]) -> dict:
    """Time and peak memory of the ways to the same scores, each run in fresh processes."""
    out = {"data": kind, "n": n}
    for how in hows:
        runs = [_in_subprocess("_scores_job", kind, n, how) for _ in range(repeats)]
        out[how] = {"seconds": statistics.median(r["seconds"] for r in runs),
                    "peak_extra_mb": statistics.median(r["peak_extra_mb"] for r in runs)}  # fmt: skip
    ref = np.load(f"{tempfile.gettempdir()}/fairif_scores_{kind}_jvp.npy")
    for how in hows[1:]:
        other = np.load(f"{tempfile.gettempdir()}/fairif_scores_{kind}_{how}.npy")
        out[how]["max_rel_diff_vs_jvp"] = float(np.abs(ref - other).max() / np.abs(other).max())
        out[how]["time_ratio_vs_jvp"] = out[how]["seconds"] / out["jvp"]["seconds"]
    return out


def _growth_job(n: int) -> dict:
    """Stage 1 on ``n`` tabular rows (the net trained on at most 50,000 of them), in a fresh process."""
    net, *_ = _fitted("tabular", min(n, 50_000), epochs=1)
    X, y, s = _data("tabular", n, seed=1)
    m = min(5000, n // 10)
    X_val, y_val, s_val, X, y = X[:m], y[:m], s[:m], X[m:], y[m:]
    kw = dict(method="cg", curvature_subsample=min(n, 20_000), random_state=0)
    before = _reset_peak_memory()
    seconds, (result, _) = _timed(lambda: _stage1(net, X, y, X_val, y_val, s_val, **kw))
    peak = _peak_memory_mb()
    epoch_net = _net("tabular", X.shape[1], 1)
    epoch, _ = _timed(lambda: fit_net(epoch_net, X, y))
    return {"n": n, "stage1_s": seconds, "stage1_peak_extra_mb": peak - before,
            "process_peak_mb": peak, "erm_epoch_s": epoch,
            "cg_iterations": result.solve.n_iter}  # fmt: skip


def grid_search_saving(
    n: int, alphas: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03, 0.01), folds: int = 3
) -> dict:
    """``GridSearchCV`` over ``alpha`` with and without ``memory=``: time and the same results."""
    import shutil

    import sklearn
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from fairif_sklearn import FairIFClassifier
    from fairif_sklearn.datasets import make_biased_classification
    from fairif_sklearn.metrics import aod_scorer

    X, y, s = make_biased_classification(n, random_state=0)
    groups = s.astype(float)
    groups[np.random.RandomState(1).uniform(size=n) > 0.2] = np.nan
    net = make_mlp_classifier(
        X.shape[1], hidden=(64,), max_epochs=10, batch_size=256, device=_SETTINGS["device"]
    )
    out, results = {"n": n, "alphas": list(alphas), "folds": folds}, {}
    cache = tempfile.mkdtemp(prefix="fairif_grid_")
    try:
        with sklearn.config_context(enable_metadata_routing=True):
            for name, memory in (("plain", None), ("memory", cache)):
                clf = FairIFClassifier(net, memory=memory, random_state=0).set_fit_request(
                    sensitive_features=True
                )
                search = GridSearchCV(
                    clf, {"alpha": list(alphas)}, scoring={"acc": "accuracy", "aod": aod_scorer}, refit=False,
                    cv=StratifiedKFold(folds, shuffle=True, random_state=0),
                )  # fmt: skip
                out[f"{name}_s"], _ = _timed(
                    lambda search=search: search.fit(X, y, sensitive_features=groups)
                )
                results[name] = search.cv_results_
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    out["speedup"] = out["plain_s"] / out["memory_s"]
    out["same_results"] = all(  # NaN where a fold's score is undefined, on both sides
        np.array_equal(results["plain"][key], results["memory"][key], equal_nan=True)
        for key in ("mean_test_aod", "mean_test_acc")
    )
    return out


def _print_scores(r: dict) -> None:
    memory = "GPU memory" if _on_gpu() else "peak extra memory"
    print(f"\nscores of {r['n']} rows [{r['data']}]:        time      {memory:17s}   max rel. diff")
    for how in ("jvp", "per_sample_batched", "per_sample_full"):
        if how in r:
            x = r[how]
            ratio = f"  ({x['time_ratio_vs_jvp']:.1f}x JVP)" if "time_ratio_vs_jvp" in x else ""
            diff = f"{x['max_rel_diff_vs_jvp']:.1e}" if "max_rel_diff_vs_jvp" in x else "-"
            print(f"  {how:20s} {x['seconds']:8.2f} s{ratio:14s} {x['peak_extra_mb']:8.0f} MB   {diff}")


def image_nets(n: int, repeats: int, epochs: int, nets=("mlp", "cnn", "resnet")) -> list[dict]:
    """The CI-MNIST MLP, the default CNN and the ResNet-18 layout (BatchNorm) on the same ``n`` rows of
    CI-MNIST (group shift): stage 1 (the defaults) against one ERM epoch, side by side, and a whole
    default ``FairIFClassifier`` fit against the ERM fit (``epochs`` epochs), side by side."""
    return [_image_net(net, n, repeats, epochs) for net in nets]


def ci_mnist_fitted(net: str, n: int, epochs: int):
    """CI-MNIST (group shift, seed 0): the bench's data and ``net`` (``fairif-bench --net``), its first
    ``n`` training rows, annotated rows in CI-MNIST's proportion (one for five) and the net fitted on
    those rows for ``epochs`` epochs: ``(data, X, y, (X_val, y_val, s_val), fitted)``."""
    from fairif_sklearn.bench._datasets import ci_mnist

    d = ci_mnist(0, bias="group_shift", device=_SETTINGS["device"], max_epochs=epochs, net=net)
    X, y = d.X_train[:n], d.y_train[:n]
    m = len(d.y_valid) * len(y) // len(d.y_train)
    fitted = d.make_net()
    torch.manual_seed(0)
    fit_net(fitted, X, y)
    return d, X, y, (d.X_valid[:m], d.y_valid[:m], d.s_valid[:m]), fitted


def _image_net(net: str, n: int, repeats: int, epochs: int) -> dict:
    """One row of :func:`image_nets`."""
    d, X, y, annotated, fitted = ci_mnist_fitted(net, n, epochs)
    m = len(annotated[1])
    epoch_net = d.make_net().set_params(max_epochs=1)
    (epoch, _), (stage1, (result, _)) = _timed_side_by_side(
        [lambda: fit_net(epoch_net, X, y), lambda: _stage1(fitted, X, y, *annotated)], repeats
    )
    kw = dict(X_val=annotated[0], y_val=annotated[1], sensitive_val=annotated[2], random_state=0)
    (erm, _), (fit, clf) = _timed_side_by_side(
        [
            lambda: WeightedNetClassifier(d.make_net(), random_state=0).fit(X, y),
            lambda: FairIFClassifier(d.make_net(), **kw).fit(X, y),
        ],
        1,
    )
    r = {"net": net, "n_train": len(y), "n_annotated": m,
         "n_params": NetFunctions(fitted).n_params(), "epochs": epochs,
         "erm_epoch_s": epoch, "stage1_s": stage1, "stage1_in_epochs": stage1 / epoch,
         "curvature_products": result.diagnostics["curvature_products"],
         "scores_method": result.diagnostics["scores_method"],
         "n_curvature_rows": result.n_curvature_rows, "cg_iterations": result.solve.n_iter,
         "erm_fit_s": erm, "fairif_fit_s": fit, "fairif_in_erm_fits": fit / erm,
         "reweighted": bool(clf.reweighted_),
         "materialization": clf.materialization_.tolist()}  # fmt: skip
    print(f"  {net:7s} {r['n_params']:7d} parameters, {len(y)} rows: stage 1 {stage1:.1f} s, one epoch "
          f"{epoch:.1f} s, stage 1 = {r['stage1_in_epochs']:.2f} epochs ({r['curvature_products']} "
          f"products on {r['n_curvature_rows']} rows, CG {r['cg_iterations']}, scores "
          f"{r['scores_method']}); ERM fit {erm:.0f} s, FairIF fit {fit:.0f} s = "
          f"{r['fairif_in_erm_fits']:.2f} ERM fits", flush=True)  # fmt: skip
    return r


PARTS = ("defaults", "epoch", "nets", "scores", "backends", "grid", "growth")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python benchmarks/stage1.py", description="What stage 1 costs, measured."
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--scores-n", type=int, default=50_000, help="rows of the JVP vs per-sample comparison")
    p.add_argument("--scores-n-image", type=int, default=10_000, help="the same for the CI-MNIST MLP")
    p.add_argument("--n", type=int, default=50_000, help="rows of the stage-1 vs epoch comparison")
    p.add_argument("--backends-n", type=int, default=20_000, help="rows of the back-end comparison")
    p.add_argument("--grid-n", type=int, default=6000, help="rows of the grid-search comparison")
    p.add_argument("--nets-n", type=int, default=10_000, help="CI-MNIST training rows of the image nets")
    p.add_argument("--nets-epochs", type=int, default=5, help="epochs of the image nets' ERM fits")
    p.add_argument("--nets", nargs="+", default=["mlp", "cnn", "resnet"], choices=["mlp", "cnn", "resnet"])
    p.add_argument("--no-real-data", action="store_true", help="CI-MNIST-shaped random data only")
    p.add_argument("--device", default="cpu", help="torch device of the nets, e.g. cuda")
    p.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to measure (default: all)"
    )
    p.add_argument("--no-cv", action="store_true", help="defaults: leave out FairIFClassifierCV's fit")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    args = p.parse_args(argv)
    configure(args.threads, args.device)
    if _on_gpu() and not torch.cuda.is_available():
        p.error(f"--device {args.device}: torch sees no CUDA device")
    device = torch.cuda.get_device_name() if _on_gpu() else "cpu"
    report = {"torch": torch.__version__, "threads": args.threads, "repeats": args.repeats, "device": device}
    print(f"torch {torch.__version__} on {device}, {args.threads} CPU threads, "
          f"medians over {args.repeats} repeats\n")  # fmt: skip
    real = None if args.no_real_data or not ({"defaults", "epoch"} & set(args.parts)) else _real_ci_mnist()
    if "defaults" in args.parts:
        with_cv = not args.no_cv
        report["whole_fit"] = [
            whole_fit_vs_erm("tabular", args.n, args.repeats, with_cv=with_cv),
            whole_fit_vs_erm(
                "ci-mnist" if real else "ci-mnist-shaped random", args.n, args.repeats, real, with_cv
            ),
        ]
        print("a whole default FairIFClassifier.fit against one ERM fit of the same net on the same rows:")
        for r in report["whole_fit"]:
            print(f"  {r['data']:22s} {r['n_train']:6d} rows, {r['epochs']} epochs: "
                  f"ERM {r['erm_fit_s']:.1f} s, "
                  f"FairIF {r['fairif_fit_s']:.1f} s = {r['fairif_in_erm_fits']:.2f} ERM fits "
                  f"(reweighted: {r['reweighted']}, {r['rounds']} round(s), damping {r['damping']:.3g}); "
                  f"max_rounds=1 {r['one_round_fit_s']:.1f} s = {r['one_round_in_erm_fits']:.2f} ERM fits"
                  + ("" if r["cv_rounds_chosen"] is None else
                     f"; FairIFClassifierCV {r['cv_fit_s']:.1f} s = {r['cv_in_erm_fits']:.2f} ERM fits "
                     f"({r['cv_rounds_chosen']} round(s) chosen)"))  # fmt: skip
    if "epoch" in args.parts:
        report["stage1_vs_epoch"] = [
            stage1_vs_epoch("tabular", args.n, args.repeats),
            stage1_vs_epoch("ci-mnist" if real else "ci-mnist-shaped random", args.n, args.repeats, real),
        ]
        print("stage 1 (the defaults) against one ERM epoch of the same net on the same rows:")
        for r in report["stage1_vs_epoch"]:
            print(f"  {r['data']:22s} {r['n_train']:6d} rows {r['n_params']:7d} parameters:\n"
                  f"      stage 1 {r['stage1_s']:.2f} s, one epoch {r['erm_epoch_s']:.2f} s, "
                  f"stage 1 = {r['stage1_in_epochs']:.2f} epochs "
                  f"(CG iterations {r['cg_iterations']}, damping {r['damping']:.3g})")  # fmt: skip
    if "nets" in args.parts and not args.no_real_data:
        print("image nets on CI-MNIST (group shift), the defaults; stage 1 against one ERM epoch, a whole "
              f"FairIF fit against the ERM fit ({args.nets_epochs} epochs), side by side:")  # fmt: skip
        report["image_nets"] = image_nets(args.nets_n, args.repeats, args.nets_epochs, args.nets)
    if "scores" in args.parts:
        report["scores"] = [
            jvp_vs_per_sample_gradients(
                "tabular", args.scores_n, args.repeats, ("jvp", "per_sample_batched", "per_sample_full")
            ),
            jvp_vs_per_sample_gradients(
                "ci-mnist", args.scores_n_image, args.repeats, ("jvp", "per_sample_batched")
            ),
        ]
        for r in report["scores"]:
            _print_scores(r)
    if "backends" in args.parts:
        report["backends"] = backends("tabular", args.backends_n, args.repeats)
        print(
            f"\nback ends [tabular, {args.backends_n} rows]: time, score correlation and relative difference"
        )
        print("of the predicted gap change, each against the first (exact):")
        for b in report["backends"]:
            if "error" in b:
                print(f"  {b['backend']:34s} {b['error']}")
                continue
            corr = b["score_correlation_with_exact"]
            print(f"  {b['backend']:34s} {b['seconds']:6.2f} s  corr. {corr:.4f}  "
                  f"rel. diff {b['gap_change_rel_diff_vs_exact']:.3f}  iterations {b['n_iter']}"
                  + ("  (stopped at negative curvature)" if b["negative_curvature"] else ""))  # fmt: skip
    if "grid" in args.parts:
        g = report["grid_search"] = grid_search_saving(args.grid_n)
        print(f"\nGridSearchCV over {len(g['alphas'])} alphas x {g['folds']} folds [{g['n']} rows, one run]: "
              f"{g['plain_s']:.1f} s plain, {g['memory_s']:.1f} s with memory= ({g['speedup']:.1f}x), "
              f"same cv_results_: {g['same_results']}")  # fmt: skip
    if "growth" in args.parts:
        report["growth"] = [_in_subprocess("_growth_job", n) for n in args.sizes]
        print("\ngrowth with n [tabular, CG on a 20000-row curvature subsample; one run each]:")
        for g in report["growth"]:
            print(f"  {g['n']:>9d} rows: stage 1 {g['stage1_s']:7.2f} s "
                  f"(one ERM epoch {g['erm_epoch_s']:.2f} s), "
                  f"stage-1 peak extra {g['stage1_peak_extra_mb']:.0f} MB, "
                  f"{'GPU' if _on_gpu() else 'process'} peak {g['process_peak_mb']:.0f} MB")  # fmt: skip
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
