"""FairIF with an Accelerate net, as each process of a job runs it (tests/test_accelerate.py launches it).

Run with ``python tests/_accelerate_job.py PARAMS OUT`` (one process) or
``torchrun --standalone --nproc_per_node 2 tests/_accelerate_job.py PARAMS OUT``
(two, gloo on CPU). ``PARAMS`` holds the parameters of a net trained once
(the same starting point for both); process 0 writes ``OUT`` (an ``.npz``):

* ``prefit_*``: FairIF on that net (``FrozenEstimator``): stage 1 split over the
  processes (its scores, weights and time), stage 2 data-parallel (predictions);
* ``scratch_*``: FairIF from scratch, the ERM fit and stage 2 data-parallel, and a
  checksum of the final parameters from every process;
* ``weighted_*``: a weighted fit whose weights are zero on every positive row.
"""

import os
import sys
import time

import numpy as np
import torch
from accelerate import Accelerator
from sklearn.frozen import FrozenEstimator

from fairif_sklearn import FairIFClassifier, FairIFWeigher, WeightedNetClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.nets import make_mlp_classifier

N_ROWS, N_ANNOTATED = 4000, 1000


def data():
    X, y, s = make_biased_classification(N_ROWS, bias="group_shift", random_state=0)
    groups = np.where(np.arange(N_ROWS) < N_ANNOTATED, s, np.nan)
    return X.astype(np.float32), y, groups


def make_net(**params):
    """The job's net: with ``accelerator=`` an AcceleratedNetClassifier, otherwise a plain one."""
    return make_mlp_classifier(10, hidden=(32,), max_epochs=8, **params)


def checksum(net) -> torch.Tensor:
    return torch.stack([p.detach().double().sum() for p in net.module_.parameters()]).sum()


def main(params_path: str, out_path: str) -> None:
    torch.set_num_threads(1)
    accelerator = Accelerator(cpu=True)
    X, y, groups = data()
    out = {"n_processes": accelerator.num_processes}

    prefit = make_net(accelerator=accelerator).initialize()
    prefit.load_params(f_params=params_path)
    settings = dict(tolerance=0.0, batch_size=256, random_state=0)
    exact = dict(settings, influence="exact")  # no CG stopping rule between the runs: rounding alone
    start = time.perf_counter()
    weigher = FairIFWeigher(FrozenEstimator(prefit), **exact).fit(X, y, sensitive_features=groups)
    out["prefit_stage1_seconds"] = time.perf_counter() - start
    clf = FairIFClassifier(FrozenEstimator(prefit), **exact).fit(X, y, sensitive_features=groups)
    out.update(
        prefit_scores=weigher.influence_scores_,
        prefit_weights=weigher.sample_weight_,
        prefit_gaps=clf.gaps_,
        prefit_final_gaps=clf.final_gaps_,
        prefit_proba=clf.predict_proba(X),
    )

    scratch = FairIFClassifier(make_net(accelerator=accelerator), **settings)
    scratch.fit(X, y, sensitive_features=groups)
    sums = accelerator.gather(checksum(scratch.estimator_).reshape(1))
    out.update(
        scratch_final_checksums=sums.numpy(),
        scratch_erm_checksums=accelerator.gather(checksum(scratch.erm_estimator_).reshape(1)).numpy(),
        scratch_accuracy=np.mean(scratch.predict(X) == y),
        scratch_gaps=scratch.gaps_,
        scratch_final_gaps=scratch.final_gaps_,
    )

    weight = (y == 0).astype(float)  # a row's weight must reach whichever process trains on it
    weighted = WeightedNetClassifier(make_net(accelerator=accelerator), random_state=0)
    weighted.fit(X, y, sample_weight=weight)
    out["weighted_positive_rate"] = np.mean(weighted.predict(X) == 1)

    if accelerator.is_main_process:
        np.savez(out_path, **out)
    accelerator.wait_for_everyone()
    accelerator.end_training()  # leave the process group before exit (else gloo's threads may abort it)
    # and leave without Python's shutdown: a gloo thread may still be releasing a finished collective's
    # tensors then, which aborts the process (pytorch/pytorch#190489; 1 run in 6 here); all is written
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:3])
