"""``python benchmarks/scaling.py``: a search over FairIF, serial against two workers (a developer tool).

Wall time (median over ``--repeats``) of the same search run serially, with
joblib's own processes (loky), on a local Dask cluster and on a local Ray
instance, each worker with one torch thread; and, for contrast, two loky workers
left at torch's default thread count. Every parallel search's ``cv_results_`` is
compared with the serial one's. Prints a table and writes JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import sklearn
import torch
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV

from fairif_sklearn import FairIFClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.metrics import aod_scorer
from fairif_sklearn.model_selection import AnnotatedStratifiedKFold
from fairif_sklearn.nets import make_mlp_classifier

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _search(n: int, n_jobs: int | None):
    X, y, s = make_biased_classification(n, bias="group_shift", random_state=0)
    groups = np.where(np.arange(len(y)) < n // 4, s, np.nan)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = FairIFClassifier(make_mlp_classifier(X.shape[1], hidden=(32,), max_epochs=10), random_state=0)
        clf.set_fit_request(sensitive_features=True)
    search = GridSearchCV(
        clf,
        {"tolerance": ["auto", 0.05, 0.02, 0.0]},
        scoring={"accuracy": "accuracy", "aod": aod_scorer},
        refit="aod",
        cv=AnnotatedStratifiedKFold(3),
        n_jobs=n_jobs,
    )
    return search, X, y, groups


def _run(n: int, n_jobs: int | None, backend: str | None):
    search, X, y, groups = _search(n, n_jobs)
    start = time.perf_counter()
    with sklearn.config_context(enable_metadata_routing=True):
        if backend is None:
            search.fit(X, y, sensitive_features=groups)
        else:
            with parallel_backend(backend, n_jobs=n_jobs):
                search.fit(X, y, sensitive_features=groups)
    return time.perf_counter() - start, search.cv_results_


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/scaling.py", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=8000, help="rows of the searched data")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    report = {"n": args.n, "repeats": args.repeats, "cores": len(os.sched_getaffinity(0))}
    rows, reference = {}, None

    def measure(name, **kw):
        nonlocal reference
        times, results = [], None
        for _ in range(args.repeats):
            seconds, results = _run(args.n, **kw)
            times.append(seconds)
        if reference is None:
            reference = results
        same = all(
            np.allclose(results[k], reference[k], rtol=1e-6, atol=1e-9)
            for k in ("mean_test_accuracy", "mean_test_aod")
        )
        rows[name] = {"seconds": statistics.median(times), "same_results": bool(same)}
        print(f"{name:48s} {rows[name]['seconds']:7.1f} s  same cv_results_: {same}", flush=True)

    measure("serial, 1 torch thread", n_jobs=None, backend=None)
    os.environ.update(ONE_THREAD)  # loky's workers inherit it
    measure("loky, 2 workers x 1 torch thread", n_jobs=2, backend="loky")
    for key in ONE_THREAD:
        del os.environ[key]
    measure("loky, 2 workers x torch's default threads", n_jobs=2, backend="loky")
    try:
        import distributed

        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None, env=ONE_THREAD
        ) as c:
            with distributed.Client(c):
                measure("dask LocalCluster, 2 workers x 1 torch thread", n_jobs=2, backend="dask")
    except ImportError:
        print("dask: not installed")
    try:
        import ray
        from ray.util.joblib import register_ray

        ray.init(
            num_cpus=2, include_dashboard=False, runtime_env={"env_vars": ONE_THREAD}, log_to_driver=False
        )
        register_ray()
        measure("ray, 2 workers x 1 torch thread", n_jobs=2, backend="ray")
        ray.shutdown()
    except ImportError:
        print("ray: not installed")
    report["searches"] = rows
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
