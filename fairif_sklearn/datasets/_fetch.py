"""Where the real data sets live, how their files are checked, and how they are fetched.

Loaders read a data directory: the ``data_home`` argument, else the
``FAIRIF_DATA`` environment variable, else ``~/fairif_data``. Files sit in a
folder per data set (``mnist/``, ``adult/``), each either plain (as UCI serves
``adult.data``) or gzip-compressed (as the MNIST mirrors serve
``train-images-idx3-ubyte.gz``), and are checked against SHA-256 sums before
use. Missing files are downloaded only when ``download_if_missing`` is true and
the network is there; otherwise one :class:`DataNotFoundError` says which files
are missing, where they were looked for, where to get them and their sums.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

# sums of the gzip files as shipped with the project's data, and of their
# decompressed bytes (the upstream originals), so a plain file, or a file
# compressed differently by a mirror, still checks
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

# the data sets' names in messages, by folder
TITLES = {"mnist": "MNIST", "adult": "UCI Adult"}

DOWNLOAD_TIMEOUT_S = 30
_GZIP_MAGIC = b"\x1f\x8b"


class DataNotFoundError(FileNotFoundError):
    """Files of a data set are missing and could not be downloaded.

    The message (one paragraph) says which files, where they were looked for,
    where to get them, the file names accepted and their SHA-256 sums.
    ``dataset`` (the folder, e.g. ``"adult"``), ``missing`` (file names),
    ``data_home`` (the directory looked in) and ``reason`` (why nothing was
    downloaded) hold the same facts.
    """

    def __init__(self, message: str, *, dataset=None, missing=(), data_home=None, reason=None):
        super().__init__(message)
        self.dataset = dataset
        self.missing = list(missing)
        self.data_home = data_home
        self.reason = reason


def _lookup(data_home=None) -> tuple[Path, str]:
    """The data directory, and the lookup that chose it in words (each rule, in order, and its path)."""
    env = os.environ.get("FAIRIF_DATA") or None
    default = Path.home() / "fairif_data"
    rules = [
        ("the data_home argument", None if data_home is None else Path(data_home).expanduser()),
        ("$FAIRIF_DATA", None if env is None else Path(env).expanduser()),
        ("~/fairif_data", default),
    ]
    chosen = next(i for i, (_, path) in enumerate(rules) if path is not None)
    words = []
    for i, (rule, path) in enumerate(rules):
        state = ("not given" if i == 0 else "not set") if path is None else str(path)
        state += ", used" if i == chosen else (", not used" if path is not None else "")
        words.append(f"{rule} ({state})")
    return rules[chosen][1], ", then ".join(words)


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The data directory: ``data_home``, else ``$FAIRIF_DATA``, else ``~/fairif_data``."""
    return _lookup(data_home)[0]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(key: str) -> str:
    """The key of ``SHA256`` for a file named plain (``adult/adult.data``) or gzipped."""
    return key if key.endswith(".gz") else key + ".gz"


def _plain_name(key: str) -> str:
    return _key(key).split("/")[1].removesuffix(".gz")


def read_data(path) -> bytes:
    """The bytes of a data file, decompressed when it is gzip-compressed (whatever its name)."""
    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == _GZIP_MAGIC else data


def check_file(path: Path, key: str) -> None:
    """Raise ValueError unless the file (plain or gzipped) matches the known sums.

    ``key`` names the file either way, ``"adult/adult.data"`` or
    ``"adult/adult.data.gz"``.
    """
    gz_sum, raw_sum = SHA256[_key(key)]
    data = Path(path).read_bytes()
    actual = _sha256(data)
    if actual in (gz_sum, raw_sum):  # the shipped gzip file, or the plain upstream file
        return
    if data[:2] == _GZIP_MAGIC:  # compressed some other way: the decompressed bytes decide
        try:
            actual = _sha256(gzip.decompress(data))
        except (OSError, EOFError):
            pass
        if actual == raw_sum:
            return
    raise ValueError(
        f"{path} does not match its SHA-256 sum: got {actual}, expected {raw_sum} (decompressed) or "
        f"{gz_sum} (the project's gzip file). Delete it to download it again, or replace it with the "
        "original."
    )


def _find(home: Path, key: str) -> Path | None:
    """The file of ``key`` in ``home``, plain or gzipped, or None."""
    folder, name = key.split("/")[0], _plain_name(key)
    for candidate in (home / folder / name, home / folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _download(key: str, home: Path) -> Path:
    """Download ``key`` into ``home`` (gzip-compressed), check it, and return its path."""
    url, compressed = URLS[key]
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (fixed https URLs)
        data = response.read()
    if not compressed:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path = home / key
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
    try:
        tmp_path.write_bytes(data)
        check_file(tmp_path, key)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return path


def _reason(error: BaseException) -> str:
    """Why a download failed, in a few words on one line."""
    if isinstance(error, urllib.error.HTTPError):
        text = f"HTTP {error.code} {error.reason}"
    elif isinstance(error, urllib.error.URLError):
        text = str(error.reason)
    else:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return " ".join(text.split())


def _missing_message(folder: str, missing: list[str], home: Path, lookup: str, why: str) -> str:
    """One paragraph: what is missing, where it was looked for, where to get it, names and sums."""
    where = home / folder
    names = [_plain_name(k) for k in missing]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    urls = ", ".join(URLS[k][0] for k in missing)
    accepted = ", ".join(f"{n} or {n}.gz" for n in names)
    sums = ", ".join(f"{n} {SHA256[k][1]}" for n, k in zip(names, missing, strict=True))
    return (
        f"The {TITLES.get(folder, folder)} data set is missing {listed} in {where}, and {why}. "
        f"The data directory is chosen in this order: {lookup}. Get the files from {urls} and put "
        f"them in {where}/, each plain or gzipped ({accepted}), or point FAIRIF_DATA or data_home= at a "
        f"directory whose {folder}/ folder holds them. They are checked against these SHA-256 sums of "
        f"the decompressed files: {sums}."
    )


def fetch_files(keys, *, data_home=None, download_if_missing: bool = True) -> list[Path]:
    """The checked paths of files of one data set, such as ``["adult/adult.data", ...]``.

    Each key names a file plain or gzipped; either form on disk is accepted.
    Missing files are downloaded when ``download_if_missing`` (stopping at the
    first failure, as the others would fail the same way).

    Raises
    ------
    DataNotFoundError
        Files are missing and could not be downloaded (or downloading is off);
        one error names them all and says where to get them.
    ValueError
        A file does not match its checksum.
    """
    keys = [_key(k) for k in keys]
    folders = {k.split("/")[0] for k in keys}
    if len(folders) != 1:
        raise ValueError(f"fetch_files takes the files of one data set, got {sorted(folders)}.")
    home, lookup = _lookup(data_home)
    found = {key: _find(home, key) for key in keys}
    downloaded, why = set(), None
    if not download_if_missing:
        why = "downloading is off (download_if_missing=False)"
    else:
        for key in [k for k in keys if found[k] is None]:
            try:
                found[key] = _download(key, home)  # checked there
                downloaded.add(key)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
                # URLError, TimeoutError and a refused mkdir are all here; one failure is enough
                why = f"the download failed ({URLS[key][0]}: {_reason(error)})"
                break
    missing = [k for k in keys if found[k] is None]
    if missing:
        folder = folders.pop()
        message = _missing_message(folder, missing, home, lookup, why)
        raise DataNotFoundError(
            message, dataset=folder, missing=[_plain_name(k) for k in missing], data_home=home, reason=why
        ) from None
    for key in set(keys) - downloaded:
        check_file(found[key], key)
    return [found[k] for k in keys]


def fetch_dataset(folder: str, *, data_home=None, download_if_missing: bool = True) -> list[Path]:
    """The checked paths of all the files of a data set, ``"mnist"`` or ``"adult"`` (see `fetch_files`)."""
    if folder not in TITLES:
        raise ValueError(f"the data sets are {sorted(TITLES)}, got {folder!r}.")
    keys = [k for k in SHA256 if k.startswith(folder + "/")]
    return fetch_files(keys, data_home=data_home, download_if_missing=download_if_missing)


def fetch_file(key: str, *, data_home=None, download_if_missing: bool = True) -> Path:
    """The checked path of one data file such as ``"mnist/train-images-idx3-ubyte"`` (plain or gzipped).

    Raises
    ------
    DataNotFoundError
        The file is missing and could not be downloaded (or downloading is off);
        the message says where to get it and where to put it.
    ValueError
        The file does not match its checksum.
    """
    return fetch_files([key], data_home=data_home, download_if_missing=download_if_missing)[0]
