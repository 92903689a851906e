"""``python benchmarks/scores.py``: the influence-score methods timed on conv nets and an MLP (a dev tool).

For each net (the default CNN and the default MLP on 3x32x32 inputs, and a
ResNet-18-shaped net with BatchNorm written here) it times, on ``--n`` random
rows with ``--k`` random directions, every exact method of
``fairif_sklearn._influence._scores`` and the ``"auto"`` selector (which
method it picked), each as a median over ``--repeats`` and as a ratio to one
ERM training epoch of the same net on the same rows (forward, backward and Adam
step in batches of 128) measured in the same run. Every method's scores are
compared with the forward-mode JVP's. With ``--channels-last`` it also times
the methods on batches and convolution weights in ``torch.channels_last``
layout, as a ratio to the same calls in the default layout.

It imports the library's private score module by its private name; users never do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from skorch import NeuralNetClassifier

from fairif_sklearn._influence import _scores
from fairif_sklearn._skorch import NetFunctions
from fairif_sklearn.nets import make_cnn_classifier, make_mlp_classifier


class BasicBlock(torch.nn.Module):
    """ResNet's basic block: two 3x3 convolutions with BatchNorm, and a shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c_out)
        self.conv2 = torch.nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c_out)
        self.shortcut = torch.nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = torch.nn.Sequential(
                torch.nn.Conv2d(c_in, c_out, 1, stride, bias=False), torch.nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(torch.nn.Module):
    """ResNet-18's shape (blocks (2, 2, 2, 2)) at widths 16/32/64/128: about 700k parameters."""

    def __init__(self, widths=(16, 32, 64, 128), blocks=(2, 2, 2, 2), n_classes: int = 2):
        super().__init__()
        self.stem = torch.nn.Sequential(
            torch.nn.Conv2d(3, widths[0], 3, 1, 1, bias=False),
            torch.nn.BatchNorm2d(widths[0]),
            torch.nn.ReLU(),
        )
        layers, c_in = [], widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks, strict=True)):
            for j in range(count):
                layers.append(BasicBlock(c_in, width, 2 if (j == 0 and i > 0) else 1))
                c_in = width
        self.layers = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(c_in, n_classes)

    def forward(self, x):
        features = torch.nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1)
        return self.head(torch.flatten(features, 1))


def _nets(device: str) -> dict:
    common = dict(max_epochs=1, batch_size=128, device=device)
    return {
        "CNN (16, 32)": lambda: make_cnn_classifier(**common),
        "MLP 3072-64": lambda: make_mlp_classifier(3072, hidden=(64,), **common),
        "ResNet-18-ish": lambda: NeuralNetClassifier(
            SmallResNet,
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=0.01,
            train_split=None,
            verbose=0,
            **common,
        ),  # fmt: skip
    }


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _median_time(fn, repeats: int, device: str, warm_up=None, once_over: float = np.inf):
    """Median seconds of ``fn()`` over ``repeats`` runs after a warm-up (``warm_up()``, else ``fn()``),
    and its last result; one run only when the first takes more than ``once_over`` seconds."""
    result = (warm_up or fn)()
    times = []
    for _ in range(repeats):
        if times and times[0] > once_over:
            break
        _sync(device)
        start = time.perf_counter()
        result = fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result, len(times)


def _channels_last(problem, x):
    """The problem and batch with 4-d tensors (images, conv weights, their directions) channels-last."""

    def convert(t):
        return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t

    moved = _scores._Problem(
        problem.model,
        {k: convert(v) for k, v in problem.sub.items()},
        problem.fixed,
        {k: torch.stack([convert(t) for t in v]) if v.dim() == 5 else v for k, v in problem.tangents.items()},
        problem.memory_budget,
    )
    return moved, convert(x)


def _layout_ratios(model, X, y, V, rows: int, repeats: int, device: str) -> dict:
    """Per method, on the first ``rows`` rows as one batch: time with the batch and the conv weights
    channels-last over time in the default layout (double_vjp is left out: double backward under
    vmap refuses channels-last tensors)."""
    problem = _scores._problem(model, list(model.params), V, _scores.DEFAULT_MEMORY_BUDGET)
    _, x, t = next(iter(model.batches(X, y, None, rows)))
    moved, x_moved = _channels_last(problem, x)
    out = {}
    with model.eval_mode():
        for name in ("jvp", "per_sample"):
            scorer = _scores.SCORERS[name]
            plain = _median_time(lambda s=scorer: s(problem, x, t), repeats, device)[0]
            out[name] = _median_time(lambda s=scorer: s(moved, x_moved, t), repeats, device)[0] / plain
    return out


def measure(label: str, make, n: int, k: int, args) -> dict:
    """One net: the ERM epoch, each method and "auto": times, ratios to the epoch, agreement.

    A method whose first timed run takes over ``args.slow`` times the fastest so far is timed once.
    """
    batch_size, repeats, device = args.batch_size, args.repeats, args.device
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 3, 32, 32)).astype(np.float32)
    y = rng.randint(0, 2, n)
    torch.manual_seed(0)
    net = make().fit(X, y)  # one epoch: initialised and trained a little
    epoch = _median_time(lambda: net.partial_fit(X, y), repeats, device)[0]
    model = NetFunctions(net)
    V = torch.randn(k, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    names = list(model.params)
    row = {"net": label, "n_params": model.n_params(), "erm_epoch_s": epoch, "methods": {}}
    reference, fastest = None, np.inf
    for method in ("jvp", "per_sample", "double_vjp", "auto"):
        info: dict = {}

        def run(method=method, info=info, rows=slice(None)):
            return _scores.influence_scores(
                model, X[rows], y[rows], names, V, batch_size=batch_size, method=method, info=info
            )

        warm_up = lambda run=run: run(rows=slice(0, 128))  # noqa: E731
        seconds, scores, runs = _median_time(run, repeats, device, warm_up, once_over=args.slow * fastest)
        fastest = min(fastest, seconds)
        reference = scores if reference is None else reference
        error = float(np.abs(scores - reference).max() / np.abs(reference).max())
        row["methods"][method] = {
            "seconds": seconds,
            "epochs": seconds / epoch,
            "max_rel_diff_vs_jvp": error,
            "used": info["scores_method"],
            "runs": runs,
        }
    if args.channels_last:
        row["channels_last_over_default"] = _layout_ratios(model, X, y, V, 256, repeats, device)
    return row


def _print(rows: list[dict]) -> None:
    methods = ("jvp", "per_sample", "double_vjp", "auto")
    print(f"{'net':<16}{'params':>9}{'epoch s':>9}  " + "".join(f"{m:>22}" for m in methods))
    for r in rows:
        cells = "".join(
            f"{r['methods'][m]['seconds']:>9.3f}s ({r['methods'][m]['epochs']:>5.2f} ep)" for m in methods
        )
        print(f"{r['net']:<16}{r['n_params']:>9}{r['erm_epoch_s']:>9.3f}  {cells}")
    for r in rows:
        auto = r["methods"]["auto"]["used"]
        worst = max(v["max_rel_diff_vs_jvp"] for v in r["methods"].values())
        once = [m for m, v in r["methods"].items() if v["runs"] == 1]
        print(f"{r['net']}: auto used {auto}; largest relative difference from jvp {worst:.1e}", end="")
        print(f"; timed once (slow): {', '.join(once)}" if once else "")
        if "channels_last_over_default" in r:
            ratios = r["channels_last_over_default"]
            text = ", ".join(_ratio(m, v) for m, v in ratios.items())
            print(f"  channels-last time / default-layout time: {text}")


def _ratio(method: str, value) -> str:
    return f"{method} {value:.2f}" if isinstance(value, float) else f"{method} {value}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n", type=int, default=2048, help="training rows")
    parser.add_argument("--k", type=int, default=4, help="directions")
    parser.add_argument("--batch-size", type=int, default=1024, help="the scores' batch size (FairIF's)")
    parser.add_argument("--slow", type=float, default=3.0, help="time once what takes this x the fastest")
    parser.add_argument("--nets", nargs="*", default=None, help="a subset of the nets, by label prefix")
    parser.add_argument("--channels-last", action="store_true", help="also time channels-last layout")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for label, make in _nets(args.device).items():
        if args.nets and not any(label.startswith(p) for p in args.nets):
            continue
        rows.append(measure(label, make, args.n, args.k, args))
        print(json.dumps(rows[-1]), flush=True)
    _print(rows)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
