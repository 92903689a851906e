"""Memory of stage 1 with images streamed from a Dataset against the same images as one array.

Each configuration runs in a fresh process: a net trained once on 5,000 images
(``FrozenEstimator``: no ERM fit, stage 1 alone) and ``FairIFWeigher`` on ``n``
images of 3x32x32 (the CI-MNIST shape), given either as a map-style Dataset that
makes each image from its index when asked (as a folder of image files would
decode it) or as one float32 array: the routed form (``sensitive_features``
missing on the training rows) with the 2,000 annotated rows first ("array": the
training rows are one run of ``X``, read in place) or spread over ``X`` ("scattered":
FairIF copies the training rows out of ``X``), or the annotated set given apart
(``X_val``, ``y_val`` and ``sensitive_val``; ``X`` is then the training rows,
read in place). Printed: the process's peak resident memory
during stage 1 above what it held when stage 1 began (the array, when there
is one, is made before), and stage 1's wall time.

    python benchmarks/streaming.py --out doc/results/streaming
"""

from __future__ import annotations

import argparse
import ctypes
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _report import publish  # benchmarks/_report.py, beside this script
from torch.utils.data import Dataset

SHAPE = (3, 32, 32)


def rss_mb() -> float:
    """Resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def reset_peak() -> None:
    """Start the peak resident memory (VmHWM) again from now (Linux 4.0 and later)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def trim_heap() -> None:
    """Return the C heap's free memory to the system (glibc's ``malloc_trim``; nothing elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_mb() -> float:
    """The peak resident memory since the last :func:`reset_peak`, in MB."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1e3


class LazyImages(Dataset):
    """Image ``i`` made from its index when asked: noise, plus a bright block that depends on the class."""

    def __init__(self, n: int):
        self.y = (np.arange(n) * 7919 % 11 < 5).astype(np.int64)
        self.s = (np.arange(n) * 104729 % 13 < 4).astype(np.int64)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(int(i))
        x = torch.rand(SHAPE, generator=g) * 0.5
        x[self.y[i], 4:12, 4:12] += 0.5 + 0.3 * self.s[i]  # the group shifts the class signal
        return x, self.y[i]


def one(n: int, kind: str) -> dict:
    """Stage 1 on ``n`` images given as ``kind`` ("dataset", "array", "scattered" or "apart": see the
    module docstring), in this process."""
    from sklearn.frozen import FrozenEstimator

    from fairif_sklearn import FairIFWeigher
    from fairif_sklearn.nets import make_mlp_classifier

    torch.set_num_threads(1)
    data = LazyImages(n)
    rows = np.arange(n)
    annotated = rows % (n // 2000) == 0 if kind == "scattered" else rows < 2000  # 2,000 annotated rows
    groups = np.where(annotated, data.s, -1)
    torch.manual_seed(0)
    net = make_mlp_classifier(int(np.prod(SHAPE)), hidden=(64,), max_epochs=2, verbose=0)
    net.fit(torch.stack([data[i][0] for i in range(5000)]).numpy(), data.y[:5000])
    X = data if kind == "dataset" else torch.stack([data[i][0] for i in range(n)]).numpy()
    fit_args, fit_kw, apart = (X, data.y), {"sensitive_features": groups}, {}
    if kind == "apart":  # the 2,000 annotated rows as their own arrays, the training rows as X
        X_val, X = X[:2000].copy(), X[2000:].copy()
        fit_args, fit_kw = (X, data.y[2000:]), {}
        apart = {"X_val": X_val, "y_val": data.y[:2000], "sensitive_val": data.s[:2000]}
    trim_heap()  # memory freed while making the images goes back to the system now, not during stage 1
    before = rss_mb()
    reset_peak()
    start = time.perf_counter()
    weigher = FairIFWeigher(FrozenEstimator(net), random_state=0, **apart)  # the defaults
    weigher.fit(*fit_args, **fit_kw)
    seconds = time.perf_counter() - start
    peak = peak_mb()
    return {
        "n": n,
        "input": kind,
        "input_mb": 0.0
        if kind == "dataset"
        else (X.nbytes + sum(getattr(v, "nbytes", 0) for v in apart.values())) / 1e6,
        "peak_above_start_mb": peak - before,
        "stage1_seconds": seconds,
        "reweighted": bool(weigher.reweighted_),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    p.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.txt")
    p.add_argument("--one", nargs=2, metavar=("N", "KIND"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.one[1])))
        return
    rows = []
    for n in args.sizes:
        for kind in ("dataset", "array", "scattered", "apart"):
            done = subprocess.run(
                [sys.executable, __file__, "--one", str(n), kind], capture_output=True, text=True, check=True
            )
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    lines = [
        f"{'rows':>8} {'input':>9} {'input MB':>9} {'stage-1 peak above start MB':>28} {'stage 1 s':>10}",
        *(
            f"{r['n']:>8} {r['input']:>9} {r['input_mb']:>9.0f} {r['peak_above_start_mb']:>28.0f} "
            f"{r['stage1_seconds']:>10.1f}"
            for r in rows
        ),
    ]
    text = "\n".join(lines)
    publish(text, rows, args.out)


if __name__ == "__main__":
    main()
