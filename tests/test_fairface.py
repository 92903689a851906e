"""The FairFace loader, offline, on a tiny fake copy of the official release's file layout made here."""

import sys

import numpy as np
import pytest

from fairif_sklearn.datasets import DataNotFoundError, fetch_fairface

RACES = ["White", "Black", "Latino_Hispanic", "East Asian", "Southeast Asian", "Indian", "Middle Eastern"]
AGES = ["0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70"]
COLOURS = {"Male": (40, 90, 200), "Female": (220, 60, 60)}
N_TRAIN, N_VAL = 9, 5


@pytest.fixture(scope="module")
def fake_fairface(tmp_path_factory):
    """A data directory whose fairface/ folder is laid out as the release unzips, with 14 small images.

    Men's images are blue, women's red; JPEGs, and a PNG in each split. Returns
    the directory and the label rows of each split as (file, age, gender, race).
    """
    pytest.importorskip("PIL")
    from PIL import Image

    home = tmp_path_factory.mktemp("data")
    folder = home / "fairface"
    rows = {}
    for split, n, offset in (("train", N_TRAIN, 0), ("val", N_VAL, N_TRAIN)):
        (folder / split).mkdir(parents=True)
        rows[split] = []
        for i in range(n):
            k = offset + i
            gender, race, age = ("Male", "Female")[k % 2], RACES[k % 7], AGES[k % 9]
            name = f"{split}/{i + 1}.{'png' if i == 0 else 'jpg'}"
            Image.new("RGB", (48, 48), COLOURS[gender]).save(folder / name)
            rows[split].append((name, age, gender, race))
        lines = ["file,age,gender,race,service_test"] + [
            f"{name},{age},{gender},{race},{i % 3 == 0}"
            for i, (name, age, gender, race) in enumerate(rows[split])
        ]
        (folder / f"fairface_label_{split}.csv").write_text("\n".join(lines) + "\n")
    return home, rows


def test_the_split_its_labels_and_its_images(fake_fairface):
    home, rows = fake_fairface
    bunch = fetch_fairface("train", data_home=home)
    assert len(bunch.X) == len(bunch.y) == len(bunch.s) == len(bunch.frame) == N_TRAIN
    np.testing.assert_array_equal(bunch.y, [("Male", "Female").index(r[2]) for r in rows["train"]])
    np.testing.assert_array_equal(bunch.s, [RACES.index(r[3]) for r in rows["train"]])
    assert bunch.y.dtype == bunch.s.dtype == np.int64
    assert bunch.target_names == ("Male", "Female") and list(bunch.sensitive_names) == RACES
    assert list(bunch.frame.columns) == ["file", "age", "gender", "race", "service_test"]
    for i in (0, 1):  # the PNG and a JPEG
        image, label = bunch.X[i]
        assert tuple(image.shape) == (3, 64, 64) and label == bunch.y[i]
        expected = np.array(COLOURS[rows["train"][i][2]]) / 127.5 - 1
        np.testing.assert_allclose(image.mean(dim=(1, 2)).numpy(), expected, atol=0.05)
    assert "FairFacePairs(9 images from" in repr(bunch.X)


def test_other_splits_labels_sizes_and_a_binary_group(fake_fairface):
    home, rows = fake_fairface
    val = fetch_fairface("val", target="age", sensitive="gender", image_size=None, data_home=home)
    np.testing.assert_array_equal(val.y, [AGES.index(r[1]) for r in rows["val"]])
    np.testing.assert_array_equal(val.s, [("Male", "Female").index(r[2]) for r in rows["val"]])
    assert tuple(val.X[0][0].shape) == (3, 48, 48)

    both = fetch_fairface("all", sensitive_positive="White", image_size=28, data_home=home)
    races = [r[3] for r in rows["train"] + rows["val"]]
    assert len(both.X) == N_TRAIN + N_VAL and tuple(both.X[N_TRAIN][0].shape) == (3, 28, 28)
    np.testing.assert_array_equal(both.s, [race == "White" for race in races])
    assert both.sensitive_names == ("other", "White") and "race is White" in both.DESCR
    asian = fetch_fairface(sensitive_positive=("East Asian", "Southeast Asian"), data_home=home)
    np.testing.assert_array_equal(asian.s, [r[3] in ("East Asian", "Southeast Asian") for r in rows["train"]])

    sizes = fetch_fairface(transform=lambda image: image.size, data_home=home)
    assert sizes.X[0] == ((48, 48), sizes.y[0])


def test_wrong_arguments(fake_fairface):
    home, _ = fake_fairface
    with pytest.raises(ValueError, match="target='smile' is not a FairFace label; the labels are: age"):
        fetch_fairface(target="smile", data_home=home)
    with pytest.raises(ValueError, match="split must be one of 'train', 'val', 'all'"):
        fetch_fairface("test", data_home=home)
    with pytest.raises(ValueError, match="'Asian' not among the race categories"):
        fetch_fairface(sensitive_positive="Asian", data_home=home)


def test_missing_files_say_where_to_get_them_and_where_to_put_them(tmp_path):
    pytest.importorskip("PIL")
    with pytest.raises(DataNotFoundError) as raised:
        fetch_fairface("val", data_home=tmp_path)
    error = raised.value
    message = str(error)
    assert f"FairFace is not in {tmp_path / 'fairface'}" in message
    assert "Missing: fairface_label_val.csv, val/" in message and "download=False" in message
    assert "fairface-img-margin025-trainval.zip" in message and "https://github.com/joojs/fairface" in message
    assert error.dataset == "fairface" and error.missing == ["fairface_label_val.csv", "val/"]
    assert error.data_home == tmp_path
    with pytest.raises(DataNotFoundError, match="cannot be downloaded automatically.*Google Drive"):
        fetch_fairface(data_home=tmp_path, download=True)


def test_without_pillow_the_error_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now raises ImportError
    with pytest.raises(ImportError, match=r"fairif-sklearn\[vision\]"):
        fetch_fairface(data_home=tmp_path)
