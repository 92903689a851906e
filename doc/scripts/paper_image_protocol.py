"""The FairIF paper's image protocol: a ResNet fine-tuned on CelebA or FairFace, then FairIF's defaults.

A GPU user reproduces the paper's Tables 2-4 setting with it (see the results
page, "The paper's image protocol"); on a CPU it runs too, slowly. The ERM fit
and FairIF start from the same seed; the annotated set is a part of the
validation split (group labels on those rows only), the test set the rest (the
CelebA test split). Prints the test accuracy, AOD and EOD of ERM and FairIF,
and what each stage cost per image::

    python doc/scripts/paper_image_protocol.py --dataset celeba --arch resnet18 --pretrained \
        --device cuda --epochs 10 --image-size 224
    python doc/scripts/paper_image_protocol.py --dataset fairface --arch resnet34 --pretrained \
        --device cuda --epochs 10 --image-size 224

The data sets are read from ``$FAIRIF_DATA`` (or ``--data-home``); CelebA is
downloaded there for an online user, FairFace must be put there by hand
(:func:`fairif_sklearn.datasets.fetch_fairface` says how).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.data import Subset

from fairif_sklearn import FairIFClassifier, WeightedNetClassifier
from fairif_sklearn.datasets import fetch_celeba, fetch_fairface
from fairif_sklearn.metrics import average_odds_difference, equal_opportunity_difference
from fairif_sklearn.nets import make_resnet_classifier, make_resnet_layout_classifier


def load(args):
    """Training, annotated and test rows: (Dataset, y, s) each."""
    if args.dataset == "celeba":
        kw = dict(image_size=args.image_size, data_home=args.data_home)
        train, valid, test = (fetch_celeba(split, **kw) for split in ("train", "valid", "test"))
        parts = [(b.X, b.y, b.s) for b in (train, valid, test)]
    else:  # FairFace has a training and a validation split: the latter is halved
        kw = dict(
            image_size=args.image_size, data_home=args.data_home, sensitive_positive=args.fairface_group
        )
        train, val = fetch_fairface("train", **kw), fetch_fairface("val", **kw)
        half = np.random.RandomState(args.seed).permutation(len(val.y))
        annotated, test = np.sort(half[: len(half) // 2]), np.sort(half[len(half) // 2 :])
        parts = [(train.X, train.y, train.s)] + [
            (Subset(val.X, rows.tolist()), val.y[rows], val.s[rows]) for rows in (annotated, test)
        ]
    if args.max_rows:  # a quick run: the first rows of each part
        parts = [(Subset(X, range(min(args.max_rows, len(y)))), y[: args.max_rows], s[: args.max_rows])
                 for X, y, s in parts]  # fmt: skip
    return parts


def make_net(args):
    """The net: a torchvision architecture (``--arch resnet18``, ...) or the plain-torch ResNet layout."""
    common = dict(max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, device=args.device)
    if args.arch == "resnet-layout":
        return make_resnet_layout_classifier(**common)
    return make_resnet_classifier(args.arch, pretrained=args.pretrained, **common)


def report(name, clf, X, y, s):
    """Test accuracy, AOD and EOD of a fitted classifier."""
    pred = clf.predict(X)
    acc = float(np.mean(pred == y))
    aod = average_odds_difference(y, pred, sensitive_features=s)
    eod = equal_opportunity_difference(y, pred, sensitive_features=s)
    print(f"{name:8s} accuracy {acc:.4f}  AOD {aod:.4f}  EOD {eod:.4f}")
    return acc, aod, eod


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["celeba", "fairface"], default="celeba")
    p.add_argument("--arch", default="resnet18", help="a torchvision architecture, or resnet-layout")
    p.add_argument("--pretrained", action="store_true", help="ImageNet weights (downloaded once)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--fairface-group", default=None, help="FairFace: a race against the rest, e.g. White")
    p.add_argument("--max-rows", type=int, default=None, help="use only the first rows of each part")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-home", default=None)
    args = p.parse_args(argv)
    (X, y, _), (X_val, y_val, s_val), (X_test, y_test, s_test) = load(args)
    print(f"{args.dataset}: {len(y)} training, {len(y_val)} annotated, {len(y_test)} test images; "
          f"{args.arch} on {args.device}")  # fmt: skip

    start = time.perf_counter()
    erm = WeightedNetClassifier(make_net(args), random_state=args.seed).fit(X, y)
    erm_seconds = time.perf_counter() - start
    start = time.perf_counter()
    fairif = FairIFClassifier(
        make_net(args), X_val=X_val, y_val=y_val, sensitive_val=s_val, random_state=args.seed
    ).fit(X, y)
    fairif_seconds = time.perf_counter() - start

    report("ERM", erm, X_test, y_test, s_test)
    report("FairIF", fairif, X_test, y_test, s_test)
    per_epoch_image = erm_seconds / (args.epochs * len(y))
    info = fairif.influence_info_
    print(f"ERM fit {erm_seconds:.1f} s ({1e3 * per_epoch_image:.2f} ms per image and epoch); FairIF fit "
          f"{fairif_seconds:.1f} s = {fairif_seconds / erm_seconds:.2f} ERM fits "
          f"(reweighted: {fairif.reweighted_}, damping {fairif.damping_:.3g}, scores "
          f"{info['scores_method']}, curvature {info['curvature_products']})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
