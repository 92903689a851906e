"""The real data sets: checksums, where files are looked for, downloads, and CI-MNIST's biases."""

import gzip
import io
import urllib.request

import numpy as np
import pytest

from fairif_sklearn.datasets import (
    CI_MNIST_BIASES,
    TABLE5_COUNTS,
    get_data_home,
    load_adult,
    load_mnist,
    make_ci_mnist,
)
from fairif_sklearn.datasets._fetch import SHA256, URLS, check_file, fetch_file

# MNIST's published label counts (0..9), training and test files
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("FAIRIF_DATA", str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home() == tmp_path / "env"
    monkeypatch.delenv("FAIRIF_DATA")
    assert get_data_home().name == "fairif_data"


@pytest.mark.parametrize("key", sorted(SHA256))
def test_shared_files_match_their_checksums(shared_data, key):
    check_file(shared_data / key, key)


def test_a_corrupt_file_is_refused(shared_data, tmp_path):
    key = "adult/adult.test.gz"
    bad = tmp_path / "adult.test.gz"
    data = gzip.decompress((shared_data / key).read_bytes()).replace(b"Male", b"Mole", 1)
    bad.write_bytes(gzip.compress(data))
    with pytest.raises(ValueError, match="does not match its SHA-256 sum"):
        check_file(bad, key)


def test_a_recompressed_file_is_accepted(shared_data, tmp_path):
    # a mirror may gzip the same bytes differently: the decompressed sum decides
    key = "adult/adult.data.gz"
    copy = tmp_path / "adult.data.gz"
    copy.write_bytes(gzip.compress(gzip.decompress((shared_data / key).read_bytes()), compresslevel=1))
    assert copy.read_bytes() != (shared_data / key).read_bytes()
    check_file(copy, key)


@pytest.mark.parametrize("loader", [load_mnist, load_adult, make_ci_mnist])
def test_missing_files_offline_say_where_to_put_them(tmp_path, offline, loader):
    with pytest.raises(FileNotFoundError, match="FAIRIF_DATA") as info:
        loader(data_home=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value) and "download failed" in str(info.value)
    assert len(offline) == 1  # one attempt, then the clear error


def test_no_download_when_asked_not_to(tmp_path, offline):
    with pytest.raises(FileNotFoundError, match="download_if_missing=False"):
        load_adult(data_home=tmp_path, download_if_missing=False)
    assert offline == []


def _serve(monkeypatch, shared_data, corrupt=False):
    """Answer downloads with the upstream bytes (adult's uncompressed), from the shared files."""
    served = []

    def urlopen(url, *args, **kwargs):
        key = next(k for k, (u, _) in URLS.items() if u == url)
        data = (shared_data / key).read_bytes()
        if not URLS[key][1]:
            data = gzip.decompress(data)
        if corrupt:
            data = data[:-100]
        served.append(key)
        return io.BytesIO(data)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return served


def test_download_fills_the_data_directory(tmp_path, monkeypatch, shared_data):
    served = _serve(monkeypatch, shared_data)
    bunch = load_adult(data_home=tmp_path)
    assert sorted(served) == ["adult/adult.data.gz", "adult/adult.test.gz"]
    assert len(bunch.y_train) == 32561
    served.clear()
    load_adult(data_home=tmp_path)  # now on disk: no second download
    assert served == []


def test_a_corrupt_download_is_not_kept(tmp_path, monkeypatch, shared_data):
    _serve(monkeypatch, shared_data, corrupt=True)
    with pytest.raises(ValueError, match="SHA-256"):
        fetch_file("adult/adult.test.gz", data_home=tmp_path)
    assert list((tmp_path / "adult").iterdir()) == []


def test_load_mnist(shared_data):
    d = load_mnist(data_home=shared_data)
    assert d.X_train.shape == (60000, 28, 28) and d.X_test.shape == (10000, 28, 28)
    assert d.X_train.dtype == np.uint8
    assert np.bincount(d.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(d.y_test).tolist() == MNIST_TEST_COUNTS


def test_load_adult(shared_data):
    d = load_adult(data_home=shared_data)
    assert d.X_train.shape == (32561, 14) and d.X_test.shape == (16281, 14)
    assert set(d.s_train) == {"Male", "Female"}
    assert d.y_train.mean() == pytest.approx(7841 / 32561)  # the documented class balance
    assert d.y_test.mean() == pytest.approx(3846 / 16281)
    assert d.X_train["workclass"].isna().sum() == 1836  # "?" is missing
    race = load_adult(data_home=shared_data, sensitive="race")
    assert {"White", "Black"} <= set(race.s_train) and len(set(race.s_train)) == 5
    with pytest.raises(ValueError, match="sensitive must be"):
        load_adult(data_home=shared_data, sensitive="age")


@pytest.mark.parametrize("bias", sorted(CI_MNIST_BIASES))
def test_ci_mnist_counts_match_table5(shared_data, bias):
    d = make_ci_mnist(bias, data_home=shared_data, splits=["valid"], random_state=0)
    ours, paper = np.array(list(d.counts.values())), np.array(TABLE5_COUNTS[bias])
    np.testing.assert_allclose(ours, paper, rtol=0.03)
    assert set(d) >= {"X_valid", "y_valid", "s_valid"} and "X_train" not in d
    # every split carries the bias, not only the totals
    y, s = d.y_valid, d.s_valid
    red_odd, red_even, _ = CI_MNIST_BIASES[bias]
    assert s[y == 0].mean() == pytest.approx(red_odd, abs=0.01)
    assert s[y == 1].mean() == pytest.approx(red_even, abs=0.01)


def test_ci_mnist_images(shared_data):
    d = make_ci_mnist("group_shift", data_home=shared_data, splits="test", random_state=0)
    X, y, s = d.X_test, d.y_test, d.s_test
    assert X.shape == (10000, 3, 32, 32) and X.dtype == np.float32
    assert X.min() >= -1 and X.max() <= 1
    digits = load_mnist(data_home=shared_data).y_test
    assert y.mean() == pytest.approx(np.mean(digits % 2 == 0), abs=1e-9)  # every test digit kept
    # the background corner (bottom left, never digit nor box) is the group's colour
    corner = (X[:, :, 31, 0] + 1) / 2
    assert np.all(corner[s == 1, 0] >= 0.9) and np.all(corner[s == 1, 2] <= 0.1)
    assert np.all(corner[s == 0, 2] >= 0.9) and np.all(corner[s == 0, 0] <= 0.1)
    # the padding is on the top and the left: the first 4 rows carry no digit, only the grey box
    top = (X[:, :, :4, :] + 1) / 2
    grey = np.isclose(top, 0.5).all(axis=(1, 2))
    left, right = grey[:, 6:10].all(axis=1), grey[:, 22:26].all(axis=1)
    assert np.all(left ^ right) and 0.45 < right.mean() < 0.55
    # digit pixels are near white in all three channels
    mnist = load_mnist(data_home=shared_data).X_test
    ink = np.zeros((10000, 32, 32), dtype=bool)
    ink[:, 4:, 4:] = mnist > 127.5
    assert np.all(((X + 1) / 2).transpose(0, 2, 3, 1)[ink] >= 0.9 - 1e-6)


def test_ci_mnist_is_reproducible_and_settable(shared_data):
    a = make_ci_mnist("class_size", data_home=shared_data, splits="valid", random_state=3)
    b = make_ci_mnist("class_size", data_home=shared_data, splits="valid", random_state=3)
    np.testing.assert_array_equal(a.X_valid, b.X_valid)
    np.testing.assert_array_equal(a.s_valid, b.s_valid)
    c = make_ci_mnist("class_size", data_home=shared_data, splits="valid", random_state=4)
    assert not np.array_equal(a.s_valid, c.s_valid)
    # a split's content does not depend on which other splits were asked for
    both = make_ci_mnist("class_size", data_home=shared_data, splits=["valid", "test"], random_state=3)
    np.testing.assert_array_equal(a.X_valid, both.X_valid)
    custom = make_ci_mnist(
        "group_size", data_home=shared_data, splits="valid", red_fraction=0.4, even_kept=0.5, random_state=0
    )
    y, s = custom.y_valid, custom.s_valid
    assert s[y == 0].mean() == pytest.approx(0.4, abs=0.01) and s[y == 1].mean() == pytest.approx(
        0.4, abs=0.01
    )
    assert custom.counts["even blue"] + custom.counts["even red"] == pytest.approx(
        0.5 * (TABLE5_COUNTS["group_size"][2] + TABLE5_COUNTS["group_size"][3]), rel=0.01
    )


def test_ci_mnist_bad_arguments(shared_data):
    with pytest.raises(ValueError, match="bias must be one of"):
        make_ci_mnist("colour", data_home=shared_data)
    with pytest.raises(ValueError, match=r"P\(red \| odd\) must be in \[0, 1\]"):
        make_ci_mnist(data_home=shared_data, red_fraction=1.5)
    with pytest.raises(ValueError, match="splits must be among"):
        make_ci_mnist(data_home=shared_data, splits=["training"])
