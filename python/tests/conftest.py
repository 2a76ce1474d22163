"""conftest.py — shared fixtures of the Python tests: one thread (bit-reproducible runs), the build
tree (CURVO_BUILD_DIR, set by the CTest entry; else the directory of the loaded libcurvo), small
generated data."""
import os

import numpy as np
import pytest

import curvo

curvo.set_threads(1)


@pytest.fixture(scope="session")
def build_dir():
    d = os.environ.get("CURVO_BUILD_DIR") or os.path.dirname(curvo.library_path())
    if not os.path.exists(os.path.join(d, "CMakeCache.txt")):
        pytest.skip("no CMake build tree found (set CURVO_BUILD_DIR)")
    return d


@pytest.fixture(scope="session")
def source_dir():
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def blobs(n=120, d=4, classes=3, seed=0):
    """n points of d features around `classes` centres, and their labels (int64)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(classes, d))
    y = rng.integers(0, classes, n)
    X = centres[y] + rng.normal(size=(n, d))
    return X, y


@pytest.fixture
def data():
    return blobs()


@pytest.fixture
def model():
    return curvo.Model("dense:6,tanh,dense:3", 4).init(seed=3)
