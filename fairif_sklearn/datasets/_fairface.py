"""FairFace (Kärkkäinen & Joo 2021) as a lazily loaded torch Dataset, read with Pillow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.utils import Bunch
from torch.utils.data import Dataset

from ._fetch import DataNotFoundError, _lookup

# what the official release holds, in the data directory's fairface/ folder, per split: the
# labels and the images (fairface-img-margin025-trainval.zip unzips to train/ and val/)
FAIRFACE_FILES = {
    "train": ("fairface_label_train.csv", "train/"),
    "val": ("fairface_label_val.csv", "val/"),
}
FAIRFACE_ZIP = "fairface-img-margin025-trainval.zip"
FAIRFACE_URL = "https://github.com/joojs/fairface"
# the labels' categories, in the order of the codes (the official repository's order)
CATEGORIES = {
    "age": ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70"),
    "gender": ("Male", "Female"),
    "race": (
        "White",
        "Black",
        "Latino_Hispanic",
        "East Asian",
        "Southeast Asian",
        "Indian",
        "Middle Eastern",
    ),
}


class FairFacePairs(Dataset):
    """FairFace's images with one label as the target: item ``i`` is ``(image_i, y[i])``.

    The images are read from disk (and converted) when an item is asked for,
    so the whole split is never in memory.

    Parameters
    ----------
    root : path-like
        The ``fairface/`` folder; ``files`` are relative to it.
    files : sequence of str
        The image paths, as the label files' ``file`` column gives them
        (``train/1.jpg``).
    y : ndarray of shape (n,)
        The label of each image.
    image_size : int or None, default=64
        Side of the square images returned (centre-cropped to a square first);
        None keeps the images' size (224x224 in the release).
    transform : callable, default=None
        Takes the RGB ``PIL.Image`` and returns the item's image (e.g. a
        torchvision transform); by default a float tensor (3, image_size,
        image_size) scaled to [-1, 1]. When given, ``image_size`` is not used.
    """

    def __init__(
        self,
        root,
        files,
        y: np.ndarray,
        image_size: int | None = 64,
        transform: Callable | None = None,
    ):
        self.root, self.files, self.y = Path(root), list(files), y
        self.image_size, self.transform = image_size, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        from PIL import Image

        with Image.open(self.root / self.files[i]) as image:
            image = image.convert("RGB")
        return (self.transform or self._to_tensor)(image), self.y[i]

    def _to_tensor(self, image) -> torch.Tensor:
        """The image as a float tensor (3, size, size) in [-1, 1]."""
        from PIL import Image, ImageOps

        if self.image_size is not None:
            size = (self.image_size, self.image_size)
            image = ImageOps.fit(image, size, method=Image.Resampling.BILINEAR)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32).copy()).permute(2, 0, 1)
        return pixels / 127.5 - 1.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images from {self.root})"


def _codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """The int64 codes of a label column, and its categories in the codes' order."""
    categories = CATEGORIES[column]
    unknown = sorted(set(frame[column]) - set(categories))
    if unknown:
        raise ValueError(
            f"the {column} column holds values that are not FairFace's categories: {', '.join(unknown)} "
            f"(expected {', '.join(categories)})."
        )
    return frame[column].map({c: k for k, c in enumerate(categories)}).to_numpy(np.int64), categories


def _missing(folder: Path, splits: list[str]) -> list[str]:
    names = [name for split in splits for name in FAIRFACE_FILES[split]]
    return [name for name in names if not (folder / name.rstrip("/")).exists()]


def fetch_fairface(
    split: str = "train",
    *,
    target: str = "gender",
    sensitive: str = "race",
    sensitive_positive: str | tuple[str, ...] | None = None,
    image_size: int | None = 64,
    transform: Callable | None = None,
    data_home=None,
    download: bool = False,
) -> Bunch:
    """FairFace's face images as a torch Dataset, with one label as the target and one as the group.

    FairFace (Kärkkäinen & Joo 2021) holds 97,698 face images from Flickr
    (86,744 to train on, 10,954 to validate on), balanced over seven race
    groups and labelled with gender, race and one of nine age ranges. The
    FairIF paper's task is the default: gender as the (binary) target, race
    (seven groups) as the sensitive attribute; any of the three labels can be
    either, and ``sensitive_positive`` makes the group binary (e.g. white vs
    non-white). The images (the release with padding 0.25) are read lazily
    with Pillow, centre-cropped to a square, resized to ``image_size`` and
    scaled to [-1, 1] (or converted by ``transform``). Needs Pillow:
    ``pip install "fairif-sklearn[vision]"``.

    FairFace is distributed on Google Drive, which a script cannot download
    reliably, so the files are never downloaded: get them from the links of
    https://github.com/joojs/fairface (the images with padding 0.25,
    ``fairface-img-margin025-trainval.zip``, and the two label files) and put
    them in the data directory's ``fairface/`` folder, the zip unzipped there::

        fairface/fairface_label_train.csv
        fairface/fairface_label_val.csv
        fairface/train/1.jpg, ...
        fairface/val/1.jpg, ...

    Parameters
    ----------
    split : {"train", "val", "all"}, default="train"
        FairFace's partition (86,744 / 10,954 images); "all" is the training
        images then the validation images.
    target, sensitive : {"gender", "race", "age"}, default="gender", "race"
        The labels coded as ``y`` and ``s``. The codes follow the official
        repository's order: gender Male 0, Female 1; race White 0, Black 1,
        Latino_Hispanic 2, East Asian 3, Southeast Asian 4, Indian 5, Middle
        Eastern 6; age 0-2 0, 3-9 1, ..., more than 70 8 (see
        ``target_names`` and ``sensitive_names``).
    sensitive_positive : str or tuple of str, default=None
        One or more categories of ``sensitive``: then ``s`` is 1 for them and 0
        for the others (``sensitive_positive="White"`` for white vs non-white).
    image_size : int or None, default=64
        Side of the square images returned; None keeps 224.
    transform : callable, default=None
        Takes the RGB ``PIL.Image`` and returns the item's image, in place of
        the default conversion (e.g. a torchvision transform, with its own size).
    data_home : str or path-like, default=None
        The data directory: its ``fairface/`` folder holds the files above;
        default ``$FAIRIF_DATA``, else ``~/fairif_data``.
    download : bool, default=False
        There is no automatic download: when files are missing, True raises the
        same :class:`DataNotFoundError`, saying where to get them.

    Returns
    -------
    Bunch
        ``X``: a :class:`FairFacePairs` Dataset of ``(image, y)`` pairs; ``y``
        and ``s``: int64 arrays of the target's and the group's codes;
        ``target_names`` and ``sensitive_names``: the categories of the codes
        (for a binary ``s``, ``("other", "<the positive categories>")``);
        ``frame``: the split's label table (``file``, ``age``, ``gender``,
        ``race``, ``service_test``); ``DESCR``. ``X``, ``y`` and ``s`` are
        aligned, as :meth:`FairIFClassifier.fit
        <fairif_sklearn.FairIFClassifier.fit>` takes them (``X`` is streamed,
        never one array).

    Raises
    ------
    ImportError
        When Pillow is not installed.
    DataNotFoundError
        When files are missing; the message names them and the directory.
    """
    if split not in ("train", "val", "all"):
        raise ValueError(f"split must be one of 'train', 'val', 'all'; got {split!r}.")
    for column, role in ((target, "target"), (sensitive, "sensitive")):
        if column not in CATEGORIES:
            raise ValueError(
                f"{role}={column!r} is not a FairFace label; the labels are: {', '.join(CATEGORIES)}."
            )
    try:
        import PIL  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f'fetch_fairface reads the images with Pillow: pip install "fairif-sklearn[vision]" (or pillow). '
            f"Import failed with: {error}"
        ) from error
    home, lookup = _lookup(data_home)
    folder = home / "fairface"
    splits = ["train", "val"] if split == "all" else [split]
    missing = _missing(folder, splits)
    if missing:
        why = (
            "FairFace cannot be downloaded automatically (download=True): it is distributed on Google Drive"
            if download
            else "downloading is off (download=False; FairFace is distributed on Google Drive)"
        )
        raise DataNotFoundError(
            f"FairFace is not in {folder} (looked up: {lookup}), and {why}. Missing: {', '.join(missing)}. "
            f"Get {FAIRFACE_ZIP} (the images with padding 0.25), fairface_label_train.csv and "
            f"fairface_label_val.csv from the links of {FAIRFACE_URL}, unzip the images in {folder} (giving "
            "train/ and val/) and put the two label files beside them, or point FAIRIF_DATA or data_home= at "
            "a directory whose fairface/ folder holds them.",
            dataset="fairface",
            missing=missing,
            data_home=home,
            reason=why,
        )
    frame = pd.concat(
        [pd.read_csv(folder / FAIRFACE_FILES[s][0], dtype={"age": str}) for s in splits], ignore_index=True
    )
    y, target_names = _codes(frame, target)
    s, sensitive_names = _codes(frame, sensitive)
    group = f"s = {sensitive}"
    if sensitive_positive is not None:
        positive = (sensitive_positive,) if isinstance(sensitive_positive, str) else tuple(sensitive_positive)
        unknown = [c for c in positive if c not in sensitive_names]
        if unknown:
            raise ValueError(
                f"sensitive_positive={sensitive_positive!r}: {', '.join(map(repr, unknown))} not among the "
                f"{sensitive} categories {', '.join(sensitive_names)}."
            )
        s = np.isin(s, [sensitive_names.index(c) for c in positive]).astype(np.int64)
        sensitive_names = ("other", " or ".join(positive))
        group = f"s = {sensitive} is {' or '.join(positive)}"
    side = "224x224" if image_size is None else f"{image_size}x{image_size}"
    return Bunch(
        X=FairFacePairs(folder, frame["file"], y, image_size=image_size, transform=transform),
        y=y,
        s=s,
        target_names=target_names,
        sensitive_names=sensitive_names,
        frame=frame,
        DESCR=(
            f"FairFace (Kärkkäinen & Joo 2021), split {split!r}: {len(y)} face images (padding 0.25), "
            f"{side if transform is None else 'as transform makes them'}; y = {target}, {group}. "
            "CC BY 4.0."
        ),
    )
