"""UCI Adult (Census Income): income above 50K, with sex or race as the sensitive attribute."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._fetch import fetch_file

COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
]  # fmt: skip
N_ROWS = {"adult.data.gz": 32561, "adult.test.gz": 16281}


def _read(path, skiprows: int) -> pd.DataFrame:
    frame = pd.read_csv(
        path, header=None, names=[*COLUMNS, "income"], skiprows=skiprows, skipinitialspace=True,
        na_values="?", compression="gzip",
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
        The data directory (files in its ``adult/`` folder); default
        ``$FAIRIF_DATA``, else ``~/fairif_data``.
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
    """
    if sensitive not in ("sex", "race"):
        raise ValueError(f"sensitive must be 'sex' or 'race', got {sensitive!r}.")
    frames = {}
    for name, skip in (
        ("adult.data.gz", 0),
        ("adult.test.gz", 1),
    ):  # adult.test opens with "|1x3 Cross validator"
        path = fetch_file(f"adult/{name}", data_home=data_home, download_if_missing=download_if_missing)
        frames[name] = frame = _read(path, skip)
        if len(frame) != N_ROWS[name]:
            raise ValueError(f"{path} has {len(frame)} rows, expected {N_ROWS[name]}.")
        labels = set(frame["income"].unique())
        if labels != {"<=50K", ">50K"}:
            raise ValueError(f"{path} has unexpected income labels {sorted(labels)}.")
    train, test = frames["adult.data.gz"], frames["adult.test.gz"]
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
