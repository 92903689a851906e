"""The real data sets: checksums, where files are looked for, downloads, and CI-MNIST's biases."""

import gzip
import io
import pickle
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from fairif_sklearn.datasets import (
    CI_MNIST_BIASES,
    TABLE5_COUNTS,
    DataNotFoundError,
    get_data_home,
    load_adult,
    load_mnist,
    make_biased_classification,
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


def _plain(key):
    return key.split("/")[1].removesuffix(".gz")


@pytest.mark.parametrize("loader", [load_mnist, load_adult, make_ci_mnist])
def test_missing_files_offline_are_one_paragraph_that_says_everything(tmp_path, offline, loader, monkeypatch):
    monkeypatch.setenv("FAIRIF_DATA", str(tmp_path / "env"))
    home = tmp_path / "nowhere"
    with pytest.raises(DataNotFoundError) as info:
        loader(data_home=home)
    error, message = info.value, str(info.value)
    assert isinstance(error, FileNotFoundError)
    assert error.__cause__ is None and error.__suppress_context__  # raised from None: no chained traceback
    assert "\n" not in message  # one paragraph
    folder = "adult" if loader is load_adult else "mnist"
    title = "UCI Adult" if folder == "adult" else "MNIST"
    keys = [k for k in SHA256 if k.startswith(folder + "/")]
    assert error.dataset == folder and error.missing == [_plain(k) for k in keys] and error.data_home == home
    assert f"The {title} data set is missing" in message
    # where it looked, each rule in order with its path, and which one chose the directory
    assert str(home / folder) in message
    rules = [
        f"the data_home argument ({home}, used)",
        f"$FAIRIF_DATA ({tmp_path / 'env'}, not used)",
        f"~/fairif_data ({Path.home() / 'fairif_data'}, not used)",
    ]
    assert ", then ".join(rules) in message
    # why nothing was downloaded, in one clause
    assert f"the download failed ({URLS[keys[0]][0]}: no network in this test)" in message
    assert len(offline) == 1  # one attempt, then the clear error
    for key in keys:
        name = _plain(key)
        assert URLS[key][0] in message  # where to get it
        assert f"{name} or {name}.gz" in message  # the names accepted
        assert f"{name} {SHA256[key][1]}" in message  # the decompressed file's sum


def test_the_message_says_which_rule_chose_the_data_directory(tmp_path, offline, monkeypatch):
    monkeypatch.setenv("FAIRIF_DATA", str(tmp_path / "env"))
    with pytest.raises(DataNotFoundError, match="download failed") as info:
        load_adult()
    message = str(info.value)
    assert f"missing adult.data and adult.test in {tmp_path / 'env' / 'adult'}," in message
    assert f"the data_home argument (not given), then $FAIRIF_DATA ({tmp_path / 'env'}, used)" in message
    monkeypatch.delenv("FAIRIF_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DataNotFoundError) as info:
        load_adult()
    expected = f"$FAIRIF_DATA (not set), then ~/fairif_data ({tmp_path / 'home' / 'fairif_data'}, used)"
    assert expected in str(info.value)


def test_only_the_missing_files_are_named(shared_data, tmp_path, offline):
    (tmp_path / "adult").mkdir()
    (tmp_path / "adult" / "adult.data.gz").write_bytes((shared_data / "adult/adult.data.gz").read_bytes())
    with pytest.raises(DataNotFoundError) as info:
        load_adult(data_home=tmp_path)
    assert info.value.missing == ["adult.test"]
    assert "missing adult.test in" in str(info.value) and "adult.data or" not in str(info.value)
    assert offline == [URLS["adult/adult.test.gz"][0]]


def test_no_download_when_asked_not_to(tmp_path, offline):
    with pytest.raises(DataNotFoundError, match=r"downloading is off \(download_if_missing=False\)"):
        load_adult(data_home=tmp_path, download_if_missing=False)
    assert offline == []


def test_an_http_error_is_named(tmp_path, monkeypatch):
    def urlopen(url, *args, **kwargs):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(DataNotFoundError, match=r"the download failed \(https://\S+adult.data: HTTP 404"):
        load_adult(data_home=tmp_path)


def test_plain_files_load_and_check(shared_data, tmp_path, offline):
    # UCI serves adult.data and adult.test uncompressed; a folder of plain files is as good as the .gz
    for key in SHA256:
        target = tmp_path / key.removesuffix(".gz")
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(gzip.decompress((shared_data / key).read_bytes()))
        check_file(target, key)
        check_file(target, key.removesuffix(".gz"))
        assert fetch_file(key.removesuffix(".gz"), data_home=tmp_path) == target
    plain, packed = load_adult(data_home=tmp_path), load_adult(data_home=shared_data)
    np.testing.assert_array_equal(plain.y_test, packed.y_test)
    assert plain.frame_train.equals(packed.frame_train)
    mnist = load_mnist(data_home=tmp_path)
    assert np.bincount(mnist.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == MNIST_TEST_COUNTS
    np.testing.assert_array_equal(mnist.X_test, load_mnist(data_home=shared_data).X_test)
    assert offline == []


def test_mixed_plain_and_gzipped_files_and_a_corrupt_plain_file(shared_data, tmp_path, offline):
    (tmp_path / "adult").mkdir()
    data = gzip.decompress((shared_data / "adult/adult.data.gz").read_bytes())
    (tmp_path / "adult" / "adult.data").write_bytes(data)
    # gzip bytes under the plain name (a mirror's file saved without .gz) are read as gzip
    (tmp_path / "adult" / "adult.test").write_bytes((shared_data / "adult/adult.test.gz").read_bytes())
    assert len(load_adult(data_home=tmp_path, download_if_missing=False).y_test) == 16281
    (tmp_path / "adult" / "adult.data").write_bytes(data.replace(b"Male", b"Mole", 1))
    with pytest.raises(ValueError, match="does not match its SHA-256 sum"):
        load_adult(data_home=tmp_path)
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


def test_biased_classification_bad_arguments():
    # a negative size was NumPy's "negative dimensions are not allowed", a float one a TypeError from it
    for bad in (-5, 0, 100.0, True):
        with pytest.raises(ValueError, match=r"n_samples must be an integer of at least 1"):
            make_biased_classification(bad)
    with pytest.raises(ValueError, match=r"n_features must be an integer of at least 4, got 3"):
        make_biased_classification(100, n_features=3)
    with pytest.raises(ValueError, match="bias must be one of"):
        make_biased_classification(100, bias="colour")
    with pytest.raises(ValueError, match=r"P\(y=1\) must be in \(0, 1\)"):
        make_biased_classification(100, positive_fraction=1.0)
    X, y, s = make_biased_classification(np.int64(7), random_state=0)  # NumPy integers are integers
    assert X.shape == (7, 10) and y.shape == s.shape == (7,)


def test_ci_mnist_bad_arguments(shared_data):
    with pytest.raises(ValueError, match="bias must be one of"):
        make_ci_mnist("colour", data_home=shared_data)
    with pytest.raises(ValueError, match=r"P\(red \| odd\) must be in \[0, 1\]"):
        make_ci_mnist(data_home=shared_data, red_fraction=1.5)
    with pytest.raises(ValueError, match="splits must be among"):
        make_ci_mnist(data_home=shared_data, splits=["training"])


# the console scripts: a missing data set is one paragraph on stderr, and --help is plain text with defaults


@pytest.mark.parametrize("dataset", ["adult", "ci-mnist"])
def test_bench_without_data_prints_one_paragraph_and_exits_2(tmp_path, offline, capsys, dataset):
    from fairif_sklearn.bench import main

    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["--dataset", dataset, "--data-home", str(empty), "--seeds", "1", "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.startswith("fairif-bench: error: The ") and "\n\n" not in err.strip()
    text = " ".join(err.split())  # wrapped at whitespace only: paths and URLs stay whole
    folder = "adult" if dataset == "adult" else "mnist"
    assert f"missing {'adult.data and adult.test' if folder == 'adult' else 'train-images'}" in text
    assert str(empty / folder) in text and f"the data_home argument ({empty}, used)" in text
    assert "the download failed" in text and "no network in this test" in text
    for key in (k for k in SHA256 if k.startswith(folder + "/")):
        assert URLS[key][0] in text and SHA256[key][1] in text and f"{_plain(key)}.gz" in text
    assert len(offline) == 1 and not (tmp_path / "out").exists()


def _help(main, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_bench_help_is_plain_text_with_defaults(capsys):
    from fairif_sklearn.bench import main

    text = _help(main, capsys)
    assert "``" not in text and ":func:" not in text
    assert text.startswith("usage: fairif-bench")
    flat = " ".join(text.split())
    for default in ("(default: synthetic)", "(default: group_size)", "(default: 3)", "(default: 6000)",
                    "(default: cpu)", "(default: fairif_results)", "(default: 15)", "(default: auto)",
                    "(default: $FAIRIF_DATA, else ~/fairif_data)"):  # fmt: skip
        assert default in flat, default
    assert "None" not in text  # an unset option says what happens instead
    assert "examples:" in text and "fairif-bench --dataset adult --data-home" in text


def test_quickstart_help_is_plain_text_with_defaults(capsys):
    from fairif_sklearn._quickstart import main

    text = _help(main, capsys)
    assert "``" not in text
    assert text.startswith("usage: fairif-quickstart")
    flat = " ".join(text.split())
    for default in ("(default: group_shift)", "(default: 5)", "(default: 6000)", "(default: 1000)",
                    "(default: cpu)", "(default: auto)"):  # fmt: skip
        assert default in flat, default
    assert "examples:" in text and "fairif-quickstart --bias class_size" in text


def test_ci_mnist_served_as_a_dataset_on_disk(shared_data, tmp_path):
    from fairif_sklearn.datasets import NpyImageDataset, make_ci_mnist

    arrays = make_ci_mnist("group_shift", splits=["valid"], random_state=3)
    served = make_ci_mnist(
        "group_shift", splits=["valid"], random_state=3, as_dataset=True, memmap_dir=tmp_path
    )
    data = served.X_valid
    assert isinstance(data, NpyImageDataset) and len(data) == len(arrays.y_valid)
    np.testing.assert_array_equal(served.y_valid, arrays.y_valid)
    for i in (0, 17, len(data) - 1):
        image, label = data[i]
        np.testing.assert_array_equal(image.numpy(), arrays.X_valid[i])
        assert label == arrays.y_valid[i]
    assert pickle.loads(pickle.dumps(data))[5][0].equal(data[5][0])  # pickles as its path (workers)
