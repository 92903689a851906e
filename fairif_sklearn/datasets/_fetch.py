"""Where the real data sets live, how their files are checked, and how they are fetched.

Loaders read a data directory: the ``data_home`` argument, else the
``FAIRIF_DATA`` environment variable, else ``~/fairif_data``. Files sit in a
folder per data set (``mnist/``, ``adult/``), gzip-compressed, and are checked
against SHA-256 sums before use. A missing file is downloaded only when
``download_if_missing`` is true and the network is there; otherwise the error
says what to put where.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

# sums of the gzip files as shipped with the project's data, and of their
# decompressed bytes (the upstream originals), so a file compressed differently
# by a mirror still checks
SHA256 = {
    "mnist/train-images-idx3-ubyte.gz": (
        "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "mnist/train-labels-idx1-ubyte.gz": (
        "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "mnist/t10k-images-idx3-ubyte.gz": (
        "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "mnist/t10k-labels-idx1-ubyte.gz": (
        "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    "adult/adult.data.gz": (
        "c7a2b4716a97f930123e0baf879188d701e798172631a654fc703d4b082907f3",
        "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    ),
    "adult/adult.test.gz": (
        "8a2c1bffa6e7ce5abfa43881ae5e87c4311ebc2b3cd526c9c40a43f19f06f799",
        "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
    ),
}

# upstream locations; (url, whether the download is gzip-compressed)
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_ADULT_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"
URLS = {
    **{key: (_MNIST_URL + key.split("/")[1], True) for key in SHA256 if key.startswith("mnist/")},
    "adult/adult.data.gz": (_ADULT_URL + "adult.data", False),
    "adult/adult.test.gz": (_ADULT_URL + "adult.test", False),
}

DOWNLOAD_TIMEOUT_S = 30


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The data directory: ``data_home``, else ``$FAIRIF_DATA``, else ``~/fairif_data``."""
    if data_home is None:
        data_home = os.environ.get("FAIRIF_DATA") or Path.home() / "fairif_data"
    return Path(data_home).expanduser()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_file(path: Path, key: str) -> None:
    """Raise ValueError unless the file's gzip or decompressed bytes match the known sums."""
    gz_sum, raw_sum = SHA256[key]
    data = path.read_bytes()
    if _sha256(data) == gz_sum:
        return
    try:
        raw = gzip.decompress(data)
    except OSError:
        raw = b""
    actual = _sha256(raw) if raw else _sha256(data)
    if raw and actual == raw_sum:
        return
    raise ValueError(
        f"{path} does not match its SHA-256 sum: got {actual}, expected {gz_sum} (gzip file) or "
        f"{raw_sum} (decompressed). Delete it to download it again, or replace it with the original."
    )


def _missing_message(key: str, home: Path, why: str) -> str:
    folder = key.split("/")[0]
    wanted = ", ".join(k.split("/")[1] for k in SHA256 if k.startswith(folder + "/"))
    return (
        f"{key.split('/')[1]} is missing from {home / folder} ({why}). Put the files {wanted} in "
        f"{home / folder}, or point the FAIRIF_DATA environment variable (or data_home=) at a data "
        f"directory that has a {folder}/ folder with them."
    )


def _download(key: str, path: Path) -> None:
    url, compressed = URLS[key]
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (fixed https URLs)
        data = response.read()
    if not compressed:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as tmp:
        tmp.write(data)
    try:
        check_file(Path(tmp.name), key)
        os.replace(tmp.name, path)
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)


def fetch_file(key: str, *, data_home=None, download_if_missing: bool = True) -> Path:
    """The checked path of a data file such as ``"mnist/train-images-idx3-ubyte.gz"``.

    Raises
    ------
    FileNotFoundError
        The file is missing and could not be downloaded (or downloading is off);
        the message says where to put it.
    ValueError
        The file does not match its checksum.
    """
    home = get_data_home(data_home)
    path = home / key
    if not path.exists():
        if not download_if_missing:
            raise FileNotFoundError(_missing_message(key, home, "download_if_missing=False"))
        try:
            _download(key, path)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            raise FileNotFoundError(_missing_message(key, home, f"download failed: {error}")) from error
    check_file(path, key)
    return path
