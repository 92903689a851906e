"""The CelebA loader, offline, on a tiny fake copy of CelebA's file layout made here."""

import sys

import numpy as np
import pytest

from fairif_sklearn.datasets import DataNotFoundError, fetch_celeba

from ._helpers import torchvision_or_skip

ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
N_IMAGES, PARTITION = 40, [0] * 28 + [1] * 6 + [2] * 6  # train, valid, test


@pytest.fixture(scope="module")
def fake_celeba(tmp_path_factory):
    """A data directory whose celeba/ folder is laid out as torchvision expects, with 40 small images.

    Blond rows are yellow, others grey; the attribute values are random but known.
    Returns the directory and the (40, 40) attribute matrix in {-1, 1}.
    """
    from PIL import Image

    home = tmp_path_factory.mktemp("data")
    folder = home / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.RandomState(0)
    attr = rng.choice([-1, 1], size=(N_IMAGES, len(ATTRIBUTES)))
    names = [f"{i + 1:06d}.jpg" for i in range(N_IMAGES)]
    blond = ATTRIBUTES.index("Blond_Hair")
    for name, row in zip(names, attr, strict=True):
        colour = (230, 200, 40) if row[blond] == 1 else (90, 90, 90)
        Image.new("RGB", (178, 218), colour).save(folder / "img_align_celeba" / name, quality=95)
    lines = {
        "list_eval_partition.txt": [f"{n} {p}" for n, p in zip(names, PARTITION, strict=True)],
        "identity_CelebA.txt": [f"{n} {i % 7 + 1}" for i, n in enumerate(names)],
        "list_bbox_celeba.txt": [str(N_IMAGES), "image_id x_1 y_1 width height"]
        + [f"{n} 95 71 226 313" for n in names],
        "list_landmarks_align_celeba.txt": [
            str(N_IMAGES),
            "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x "
            "rightmouth_y",
        ]
        + [f"{n} 69 109 106 113 77 142 73 152 108 154" for n in names],
        # as in the real file: a trailing space after the names, values padded to two characters
        "list_attr_celeba.txt": [str(N_IMAGES), " ".join(ATTRIBUTES) + " "]
        + [n + " " + " ".join(f"{v:2d}" for v in row) for n, row in zip(names, attr, strict=True)],
    }
    for file, content in lines.items():
        (folder / file).write_text("\n".join(content) + "\n")
    return home, attr


@pytest.fixture
def accept_fake_files(monkeypatch):
    """torchvision checks the annotation files' MD5 sums against the real ones; accept the fakes."""
    tv = torchvision_or_skip("celeba")
    monkeypatch.setattr(tv.datasets.CelebA, "_check_integrity", lambda self: True)


def test_the_split_its_labels_and_its_images(fake_celeba, accept_fake_files):
    home, attr = fake_celeba
    bunch = fetch_celeba("train", data_home=home, download_if_missing=False)
    train = np.flatnonzero(np.array(PARTITION) == 0)
    assert len(bunch.X) == len(bunch.y) == len(bunch.s) == len(train)
    np.testing.assert_array_equal(bunch.y, (attr[train, ATTRIBUTES.index("Blond_Hair")] + 1) // 2)
    np.testing.assert_array_equal(bunch.s, (attr[train, ATTRIBUTES.index("Male")] + 1) // 2)
    assert bunch.attribute_names == ATTRIBUTES and bunch.attributes.shape == (len(train), 40)
    image, label = bunch.X[0]
    assert tuple(image.shape) == (3, 64, 64) and label == bunch.y[0]
    expected = (np.array([230, 200, 40] if bunch.y[0] else [90, 90, 90]) / 255 - 0.5) / 0.5
    np.testing.assert_allclose(image.mean(dim=(1, 2)).numpy(), expected, atol=0.03)

    other = fetch_celeba(
        "test", target="Attractive", image_size=32, data_home=home, download_if_missing=False
    )
    test = np.flatnonzero(np.array(PARTITION) == 2)
    np.testing.assert_array_equal(other.y, (attr[test, ATTRIBUTES.index("Attractive")] + 1) // 2)
    assert tuple(other.X[0][0].shape) == (3, 32, 32)


def test_fairif_on_streamed_celeba(fake_celeba, accept_fake_files):
    from fairif_sklearn import FairIFClassifier
    from fairif_sklearn.nets import make_cnn_classifier

    home, _ = fake_celeba
    bunch = fetch_celeba("all", image_size=32, data_home=home, download_if_missing=False)
    groups = bunch.s.astype(float)
    groups[:24] = np.nan  # the first 24 images unannotated
    net = make_cnn_classifier(channels=(4, 8), max_epochs=2, batch_size=8)
    clf = FairIFClassifier(net, tolerance=0.0, batch_size=8, random_state=0)
    clf.fit(bunch.X, bunch.y, sensitive_features=groups)
    assert clf.influence_scores_.shape == (2, 24)
    assert clf.predict(bunch.X).shape == (N_IMAGES,)


def test_unknown_attributes_and_missing_files(fake_celeba, accept_fake_files, tmp_path):
    home, _ = fake_celeba
    with pytest.raises(ValueError, match="'Blonde' is not a CelebA attribute"):
        fetch_celeba(target="Blonde", data_home=home, download_if_missing=False)
    with pytest.raises(ValueError, match="split must be one of"):
        fetch_celeba("validation", data_home=home)
    with pytest.raises(DataNotFoundError, match=r"CelebA is not in .*Missing: img_align_celeba/"):
        fetch_celeba(data_home=tmp_path, download_if_missing=False)


def test_without_torchvision_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision now raises ImportError
    with pytest.raises(ImportError, match=r"fairif-sklearn\[celeba\]"):
        fetch_celeba()
