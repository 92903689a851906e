"""CelebA (Liu et al. 2015) as a lazily loaded torch Dataset, on ``torchvision.datasets.CelebA``."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch
from torch.utils.data import Dataset

from ._fetch import DataNotFoundError, _lookup

# what torchvision.datasets.CelebA reads, in the data directory's celeba/ folder
CELEBA_FILES = (
    "img_align_celeba/",
    "list_attr_celeba.txt",
    "identity_CelebA.txt",
    "list_bbox_celeba.txt",
    "list_landmarks_align_celeba.txt",
    "list_eval_partition.txt",
)
# the aligned images are 178 wide and 218 high: the centred 178x178 square holds the face
_CROP = 178


class CelebAPairs(Dataset):
    """CelebA's images with one attribute as the label: item ``i`` is ``(image_i, y[i])``.

    The images are read from disk (and transformed) when an item is asked for,
    so the whole split is never in memory.

    Parameters
    ----------
    celeba : torchvision.datasets.CelebA
        With ``target_type="attr"``.
    y : ndarray of shape (n,)
        The label of each image.
    """

    def __init__(self, celeba, y: np.ndarray):
        self.celeba, self.y = celeba, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        image, _ = self.celeba[i]
        return image, self.y[i]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images from {self.celeba.root})"


def _attribute(names: list[str], name: str, role: str) -> int:
    if name not in names:
        raise ValueError(f"{role}={name!r} is not a CelebA attribute; the 40 are: {', '.join(names)}.")
    return names.index(name)


def fetch_celeba(
    split: str = "train",
    *,
    target: str = "Blond_Hair",
    sensitive: str = "Male",
    image_size: int = 64,
    data_home=None,
    download_if_missing: bool = True,
) -> Bunch:
    """CelebA's face images as a torch Dataset, with one attribute as the target and one as the group.

    The paper's task (its Appendix A, after Sagawa et al. 2019) is the default:
    blond hair as the target, the "Male" attribute as the group; any two of
    CelebA's 40 binary attributes can be chosen (e.g. ``target="Attractive"``).
    The images are loaded lazily by ``torchvision.datasets.CelebA`` (which
    also downloads them, from Google Drive, for an online user): centre-cropped to
    178x178, resized to ``image_size`` and scaled to [-1, 1]. Needs torchvision:
    ``pip install "fairif-sklearn[celeba]"``.

    Parameters
    ----------
    split : {"train", "valid", "test", "all"}, default="train"
        CelebA's standard partition (162,770 / 19,867 / 19,962 images).
    target, sensitive : str, default="Blond_Hair", "Male"
        Attribute names (as in ``list_attr_celeba.txt``) of the label and the group.
    image_size : int, default=64
        Side of the square images returned.
    data_home : str or path-like, default=None
        The data directory: its ``celeba/`` folder holds ``img_align_celeba/``
        and CelebA's five annotation files, as torchvision lays them out; default
        ``$FAIRIF_DATA``, else ``~/fairif_data``.
    download_if_missing : bool, default=True
        Let torchvision download the files when they are missing (1.4 GB).

    Returns
    -------
    Bunch
        ``X``: a :class:`CelebAPairs` Dataset of ``(image, y)`` pairs, each image
        a float tensor (3, image_size, image_size); ``y`` and ``s``: int64 0/1
        arrays (the target and the group attribute, 1 where present);
        ``attributes``: the (n, 40) 0/1 matrix of every attribute;
        ``attribute_names``; ``DESCR``. ``X``, ``y`` and ``s`` are aligned, as
        :meth:`FairIFClassifier.fit <fairif_sklearn.FairIFClassifier.fit>` takes
        them (``X`` is streamed, never one array).

    Raises
    ------
    ImportError
        When torchvision is not installed.
    DataNotFoundError
        When the files are missing and could not be downloaded.
    """
    if split not in ("train", "valid", "test", "all"):
        raise ValueError(f"split must be one of 'train', 'valid', 'test', 'all'; got {split!r}.")
    try:
        from torchvision import transforms
        from torchvision.datasets import CelebA
    except ImportError as error:
        raise ImportError(
            'fetch_celeba needs torchvision: pip install "fairif-sklearn[celeba]" (a torchvision built for '
            f"your torch). Import failed with: {error}"
        ) from error
    home, lookup = _lookup(data_home)
    folder = home / "celeba"
    missing = [name for name in CELEBA_FILES if not (folder / name.rstrip("/")).exists()]
    transform = transforms.Compose(
        [
            transforms.CenterCrop(_CROP),
            transforms.Resize(image_size),
            transforms.ToTensor(),
            transforms.Normalize([0.5] * 3, [0.5] * 3),
        ]
    )
    download = bool(missing) and download_if_missing
    try:
        celeba = CelebA(str(home), split=split, target_type="attr", transform=transform, download=download)
    except Exception as error:  # torchvision's download or integrity check
        if not missing:
            raise
        raise DataNotFoundError(
            f"CelebA is not in {folder} (looked up: {lookup}) and could not be downloaded "
            f"({type(error).__name__}: {error}). Missing: {', '.join(missing)}. Put CelebA there as "
            "torchvision lays it out (img_align_celeba/ with the aligned JPEGs and the five annotation files "
            "from the CelebA site's Anno/ and Eval/ folders), or run fetch_celeba() online.",
            dataset="celeba",
            missing=missing,
            data_home=home,
            reason=str(error),
        ) from error
    names = [n for n in celeba.attr_names if n]  # the header's trailing space makes an empty name
    attributes = np.asarray(celeba.attr, dtype=np.int64)
    y = attributes[:, _attribute(names, target, "target")]
    s = attributes[:, _attribute(names, sensitive, "sensitive")]
    return Bunch(
        X=CelebAPairs(celeba, y),
        y=y,
        s=s,
        attributes=attributes,
        attribute_names=names,
        DESCR=(
            f"CelebA (Liu et al. 2015), split {split!r}: {len(y)} aligned face images, "
            f"{image_size}x{image_size}; y = {target}, s = {sensitive}. For non-commercial research only."
        ),
    )
