"""GridSearchCV over FairIF on a Dask cluster and on Ray: the serial search's results, through joblib.

Both run locally here (two worker processes, one torch thread each); a real
cluster differs only in the address the client connects to (see the docs'
*Scaling out* page). The tests skip, with the reason, when the optional
``dask``/``distributed`` or ``ray`` packages are absent (``pip install
"fairif-sklearn[dask]"`` or ``"fairif-sklearn[ray]"``).
"""

import numpy as np
import pytest
import sklearn
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV

from fairif_sklearn import FairIFClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.metrics import aod_scorer
from fairif_sklearn.model_selection import AnnotatedStratifiedKFold

from ._helpers import small_net

pytestmark = pytest.mark.slow

# one torch thread per worker process: two workers on two cores, no oversubscription
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _search(memory=None):
    X, y, s = make_biased_classification(2500, bias="group_shift", random_state=0)
    groups = np.where(np.arange(len(y)) < 900, s, np.nan)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = FairIFClassifier(small_net(), memory=memory, random_state=0).set_fit_request(
            sensitive_features=True
        )
    search = GridSearchCV(
        clf,
        {"tolerance": ["auto", 0.0]},
        scoring={"accuracy": "accuracy", "aod": aod_scorer},
        refit="aod",
        cv=AnnotatedStratifiedKFold(3),
    )
    return search, X, y, groups


def _fit(search, X, y, groups):
    with sklearn.config_context(enable_metadata_routing=True):
        return search.fit(X, y, sensitive_features=groups)


@pytest.fixture(scope="module")
def serial():
    search, *data = _search()
    return _fit(search, *data)


def _same_as_serial(parallel, serial):
    for key in ("mean_test_accuracy", "mean_test_aod", "split0_test_aod", "split2_test_accuracy"):
        np.testing.assert_allclose(parallel.cv_results_[key], serial.cv_results_[key], rtol=1e-6, atol=1e-9)
    assert parallel.best_params_ == serial.best_params_


def test_dask_cluster_gives_the_serial_results(serial, tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (the dask extra)"
    )
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env=WORKER_ENV,
    )
    with cluster, distributed.Client(cluster):
        search, *data = _search(memory=str(tmp_path / "cache"))  # the workers share this machine's disk
        search.set_params(n_jobs=2)
        with parallel_backend("dask"):
            parallel = _fit(search, *data)
    _same_as_serial(parallel, serial)
    assert any((tmp_path / "cache").rglob("output.pkl"))  # the stage-1 cache was written by the workers


def test_ray_gives_the_serial_results(serial):
    ray = pytest.importorskip("ray", reason="ray is not installed (the ray extra)")
    from ray.util.joblib import register_ray

    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": WORKER_ENV}, log_to_driver=False)
    try:
        register_ray()
        search, *data = _search()
        search.set_params(n_jobs=2)
        with parallel_backend("ray"):
            parallel = _fit(search, *data)
    finally:
        ray.shutdown()
    _same_as_serial(parallel, serial)
