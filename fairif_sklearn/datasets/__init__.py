"""Data sets: an embedded generator of biased data, CI-MNIST, MNIST, UCI Adult and CelebA."""

from ._adult import load_adult
from ._celeba import CelebAPairs, fetch_celeba
from ._ci_mnist import CI_MNIST_BIASES, TABLE5_COUNTS, make_ci_mnist
from ._fairface import FairFacePairs, fetch_fairface
from ._fetch import DataNotFoundError, get_data_home
from ._mnist import load_mnist
from ._npy_dataset import NpyImageDataset
from ._synthetic import BIASES, make_biased_classification

__all__ = [
    "BIASES",
    "CI_MNIST_BIASES",
    "TABLE5_COUNTS",
    "CelebAPairs",
    "DataNotFoundError",
    "FairFacePairs",
    "NpyImageDataset",
    "fetch_celeba",
    "fetch_fairface",
    "get_data_home",
    "load_adult",
    "load_mnist",
    "make_biased_classification",
    "make_ci_mnist",
]
