"""UCI Adult (Census Income): income above 50K, with sex or race as the sensitive attribute."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._fetch import fetch_files, read_data

COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
]  # fmt: skip
N_ROWS = {"adult.data": 32561, "adult.test": 16281}


def _read(path, skiprows: int) -> pd.DataFrame:
    """Read a UCI Adult file, plain or gzip-compressed."""
    frame = pd.read_csv(
        io.BytesIO(read_data(path)), header=None, names=[*COLUMNS, "income"], skiprows=skiprows,
        skipinitialspace=True, na_values="?",
    )  # fmt: skip
    frame = frame.dropna(how="all")  # a trailing empty line
    frame["income"] = frame["income"].str.strip().str.rstrip(".")
    return frame.reset_index(drop=True)


def load_adult(*, data_home=None, download_if_missing: bool = True, sensitive: str = "sex") -> Bunch:
    """Load UCI Adult (Becker and Kohavi 1996): 32,561 training and 16,281 test rows.

    The target is ``income > 50K``. The sensitive column stays in ``X_*`` (drop
    it, ``X.drop(columns=[sensitive])``, to train without it).

    Parameters
    ----------
    data_home : str or path-like, default=None
        The data directory: its ``adult/`` folder holds ``adult.data`` and
        ``adult.test``, each plain (as UCI serves them) or gzipped
        (``adult.data.gz``); default ``$FAIRIF_DATA``, else ``~/fairif_data``.
    download_if_missing : bool, default=True
        Download missing files (checked against their SHA-256 sums).
    sensitive : {"sex", "race"}, default="sex"
        The column returned as ``s_train`` and ``s_test``.

    Returns
    -------
    Bunch
        ``frame_train`` and ``frame_test`` (DataFrames with the 14 features and
        ``income``; ``?`` read as missing), ``X_train``, ``X_test`` (the
        features), ``y_train``, ``y_test`` (int64, 1 for >50K), ``s_train``,
        ``s_test`` (object arrays of the sensitive column), ``feature_names``,
        ``DESCR``.

    Raises
    ------
    DataNotFoundError
        (a ``FileNotFoundError``) when ``adult.data`` or ``adult.test`` is
        neither in the data directory nor downloadable; the message says where
        it looked and where to get the files.
    """
    if sensitive not in ("sex", "race"):
        raise ValueError(f"sensitive must be 'sex' or 'race', got {sensitive!r}.")
    names = ("adult.data", "adult.test")
    paths = fetch_files(
        [f"adult/{name}" for name in names], data_home=data_home, download_if_missing=download_if_missing
    )
    frames = {}
    for name, path, skip in zip(names, paths, (0, 1), strict=True):  # adult.test opens with "|1x3 ..."
        frames[name] = frame = _read(path, skip)
        if len(frame) != N_ROWS[name]:
            raise ValueError(f"{path} has {len(frame)} rows, expected {N_ROWS[name]}.")
        labels = set(frame["income"].unique())
        if labels != {"<=50K", ">50K"}:
            raise ValueError(f"{path} has unexpected income labels {sorted(labels)}.")
    train, test = frames["adult.data"], frames["adult.test"]
    return Bunch(
        frame_train=train,
        frame_test=test,
        X_train=train[COLUMNS],
        X_test=test[COLUMNS],
        y_train=(train["income"] == ">50K").to_numpy(dtype=np.int64),
        y_test=(test["income"] == ">50K").to_numpy(dtype=np.int64),
        s_train=train[sensitive].to_numpy(dtype=object),
        s_test=test[sensitive].to_numpy(dtype=object),
        feature_names=list(COLUMNS),
        DESCR="UCI Adult / Census Income (Becker & Kohavi 1996): income >50K from census data. CC BY 4.0.",
    )
