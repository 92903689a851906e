"""Stage 1 and the ERM fit on one process against two (torchrun, gloo, CPU), with an Accelerate net.

The parent trains a net once on synthetic 3x32x32 images (the CI-MNIST shape)
and saves it; then the job runs in one process and under ``torchrun --standalone
--nproc_per_node P``, each process with one torch thread. The job times stage 1
(``FairIFWeigher`` on the saved net given as ``FrozenEstimator``: the gaps, the
curvature products and the JVP scores, the rows split over the processes) and
an ERM fit of an ``AcceleratedNetClassifier`` (data-parallel; two epochs),
with 2,000 annotated rows, medians over repeats; process 0 saves the scores,
and the parent compares them with the one-process scores. ``--net`` is an MLP
3072-64-2 or the default CNN.

    python benchmarks/distributed.py --out doc/results/distributed-mlp
    python benchmarks/distributed.py --net cnn --rows 20000 --out doc/results/distributed-cnn
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _report import publish  # benchmarks/_report.py, beside this script

SHAPE = (3, 32, 32)
ANNOTATED = 2000  # the first rows are the annotated set


def images(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` noisy images whose class shows as a bright block, shifted by a group; labels; groups."""
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, n)
    s = (rng.uniform(size=n) < np.where(y == 1, 0.8, 0.2)).astype(np.int64)
    X = rng.uniform(0, 0.5, (n, *SHAPE)).astype(np.float32)
    X[np.arange(n), y, 4:12, 4:12] += (0.3 + 0.3 * s)[:, None, None].astype(np.float32)
    return X, y, s


NETS = {"mlp": "MLP 3072-64-2", "cnn": "the default CNN (fairif_sklearn.nets.CNN)"}


def _net(kind: str, **params):
    """The net, with ``accelerator=`` an AcceleratedNetClassifier (the factories' defaults otherwise)."""
    from fairif_sklearn.nets import make_cnn_classifier, make_mlp_classifier

    fit = dict(lr=1e-3, max_epochs=2, batch_size=256, **params)
    return make_mlp_classifier(int(np.prod(SHAPE)), **fit) if kind == "mlp" else make_cnn_classifier(**fit)


def job(n: int, kind: str, repeats: int, params: str, out: str) -> None:
    """What each process runs: stage 1 and an ERM fit, timed; process 0 saves the figures."""
    from accelerate import Accelerator
    from sklearn.frozen import FrozenEstimator

    from fairif_sklearn import FairIFWeigher

    torch.set_num_threads(1)
    accelerator = Accelerator(cpu=True)
    X, y, s = images(n)
    groups = np.where(np.arange(n) < ANNOTATED, s, -1)
    net = _net(kind, accelerator=accelerator).initialize()
    net.load_params(f_params=params)
    stage1, erm = [], []
    for _ in range(repeats):
        accelerator.wait_for_everyone()
        start = time.perf_counter()
        weigher = FairIFWeigher(FrozenEstimator(net), random_state=0).fit(X, y, sensitive_features=groups)
        stage1.append(time.perf_counter() - start)
    for _ in range(repeats):
        accelerator.wait_for_everyone()
        start = time.perf_counter()
        _net(kind, accelerator=accelerator).fit(X, y)
        erm.append(time.perf_counter() - start)
    if accelerator.is_main_process:
        np.save(out + ".npy", weigher.influence_scores_)
        Path(out + ".json").write_text(
            json.dumps(
                {
                    "processes": accelerator.num_processes,
                    "stage1_seconds": stage1,
                    "erm_seconds": erm,
                    "solver": weigher.influence_info_["solver"],
                    "solver_n_iter": weigher.influence_info_["solver_n_iter"],
                }
            )
        )
    accelerator.wait_for_everyone()
    accelerator.end_training()  # leave the process group, then Python without its shutdown: a gloo
    sys.stdout.flush()  # thread may still be releasing a finished collective's tensors then, which
    os._exit(0)  # aborts the process (pytorch/pytorch#190489)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--net", choices=sorted(NETS), default="mlp")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.txt")
    p.add_argument("--job", nargs=2, metavar=("PARAMS", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.job:
        job(args.rows, args.net, args.repeats, *args.job)
        return
    tmp = Path(tempfile.mkdtemp(prefix="fairif-distributed-"))
    torch.set_num_threads(1)
    torch.manual_seed(0)
    X, y, _ = images(args.rows)
    _net(args.net).fit(X, y).save_params(f_params=str(tmp / "params.pt"))
    common = [
        "--rows",
        str(args.rows),
        "--net",
        args.net,
        "--repeats",
        str(args.repeats),
        "--job",
        str(tmp / "params.pt"),
    ]
    env = {"OMP_NUM_THREADS": "1"}
    runs = {}
    for procs in (1, args.processes):
        launcher = [sys.executable]
        if procs > 1:
            launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)]
        out = str(tmp / f"p{procs}")
        subprocess.run([*launcher, __file__, *common, out], check=True, env={**os.environ, **env})
        runs[procs] = (json.loads(Path(out + ".json").read_text()), np.load(out + ".npy"))
    (one, scores1), (many, scores_p) = runs[1], runs[args.processes]
    diff = float(np.abs(scores_p - scores1).max() / np.abs(scores1).max())
    result = dict(
        rows=args.rows, net=args.net, repeats=args.repeats, one=one, many=many, max_rel_score_diff=diff
    )
    m1, mp = (statistics.median(r["stage1_seconds"]) for r in (one, many))
    e1, ep = (statistics.median(r["erm_seconds"]) for r in (one, many))
    text = "\n".join(
        [
            f"{args.rows} images 3x32x32 ({ANNOTATED} annotated), {NETS[args.net]}, "
            f"a torch thread per process, medians of {args.repeats}",
            f"stage 1:  1 process {m1:.1f} s | {args.processes} processes {mp:.1f} s | "
            f"speed-up {m1 / mp:.2f}x",
            f"ERM fit (2 epochs):  1 process {e1:.1f} s | {args.processes} processes {ep:.1f} s | "
            f"speed-up {e1 / ep:.2f}x",
            f"influence scores, {args.processes} processes against 1: largest difference {diff:.1e} of the "
            f"largest score (CG iterations {one['solver_n_iter']} and {many['solver_n_iter']})",
        ]
    )
    publish(text, result, args.out)


if __name__ == "__main__":
    main()
