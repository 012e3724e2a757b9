"""keras_optim_zoo.data: offline builders, fail-fast loading, mock_data.

Every test runs with Python's sockets blocked (the `offline` fixture), so
the results are the same on a machine with internet access: the embedded
builders must not try the network, and an unprepared download fails fast.
"""

import os
import socket
import threading
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_optim_zoo import data
from keras_optim_zoo.data import loading

FAIL_FAST_S = 5.0


class _Offline:
    """Blocks Python's sockets and records each attempt."""

    def __init__(self):
        self.attempts = []

    def install(self, monkeypatch):
        def refuse(name):
            def fn(*args, **kwargs):
                self.attempts.append((name, args[:2]))
                raise OSError(f"network blocked by test ({name})")

            return fn

        monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
        monkeypatch.setattr(socket, "create_connection", refuse("connect"))
        monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
        return self


@pytest.fixture
def offline(monkeypatch):
    return _Offline().install(monkeypatch)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A data dir with both embedded datasets built offline, once.

    `mnist1d` is built through `data.prepare`, `digits8x8` through the plain
    `tfds.load`, which the import registered it with.
    """
    data_dir = tmp_path_factory.mktemp("tfds")
    np_state = np.random.get_state()
    times = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        net = _Offline().install(monkeypatch)
        start = time.monotonic()
        data.prepare("mnist1d", data_dir)
        times["mnist1d"] = time.monotonic() - start
        start = time.monotonic()
        tfds.load("digits8x8", split="train", data_dir=os.fspath(data_dir))
        times["digits8x8"] = time.monotonic() - start
    return {
        "data_dir": data_dir,
        "attempts": net.attempts,
        "times": times,
        "np_state_kept": _same_state(np_state, np.random.get_state()),
    }


def _same_state(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _info_mtimes(data_dir):
    return {
        path: path.stat().st_mtime_ns
        for path in sorted(data_dir.rglob("*"))
        if path.is_file()
    }


@pytest.mark.slow
def test_embedded_builds_are_offline_and_quick(built):
    assert built["attempts"] == []
    assert built["times"]["mnist1d"] < 30.0, built["times"]
    assert built["times"]["digits8x8"] < 30.0, built["times"]
    assert built["np_state_kept"]  # mnist1d reseeds numpy; it is restored.


@pytest.mark.slow
def test_mnist1d_is_the_papers_dataset(built, offline):
    from mnist1d.data import get_dataset_args, make_dataset

    splits, info = tfds.load(
        "mnist1d", data_dir=os.fspath(built["data_dir"]), with_info=True
    )
    assert info.splits["train"].num_examples == 4000
    assert info.splits["test"].num_examples == 1000
    assert info.supervised_keys == ("x", "y")
    assert info.features["y"].num_classes == 10
    spec = splits["train"].element_spec
    assert spec["x"].shape == (40,) and spec["x"].dtype == np.float32
    assert spec["y"].shape == () and spec["y"].dtype == np.int64

    reference = make_dataset(get_dataset_args())
    for split, x_key, y_key in [
        ("train", "x", "y"),
        ("test", "x_test", "y_test"),
    ]:
        x, y = data.as_arrays("mnist1d", split, built["data_dir"])
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x, reference[x_key].astype(np.float32))
        np.testing.assert_array_equal(y, reference[y_key])
        assert set(np.unique(y)) == set(range(10))
    assert offline.attempts == []


@pytest.mark.slow
def test_digits8x8_is_sklearns_dataset(built, offline):
    from sklearn.datasets import load_digits

    builder = tfds.builder("digits8x8", data_dir=os.fspath(built["data_dir"]))
    assert builder.info.splits["train"].num_examples == 1437
    assert builder.info.splits["test"].num_examples == 360

    digits = load_digits()
    ds = data.load("digits8x8", "test", built["data_dir"])
    spec = ds.element_spec
    assert spec["image"].shape == (8, 8, 1) and spec["image"].dtype == np.uint8
    assert spec["label"].dtype == np.int64
    for split, rows in [("train", slice(0, 1437)), ("test", slice(1437, None))]:
        x, y = data.as_arrays("digits8x8", split, built["data_dir"])
        assert x.shape[1:] == (8, 8, 1) and x.dtype == np.uint8
        assert 0 <= x.min() and x.max() == 16
        np.testing.assert_array_equal(x[..., 0], digits.images[rows])
        np.testing.assert_array_equal(y, digits.target[rows])
        assert set(np.unique(y)) == set(range(10))
    assert offline.attempts == []


@pytest.mark.slow
def test_prepared_dir_is_reused_not_rebuilt(built, offline, monkeypatch):
    def no_rebuild(self, dl_manager):
        raise AssertionError(f"{self.name} was rebuilt")

    before = _info_mtimes(built["data_dir"])
    for cls in (data.Mnist1d, data.Digits8x8):
        monkeypatch.setattr(cls, "_split_generators", no_rebuild)
    start = time.monotonic()
    for name in ("mnist1d", "digits8x8"):
        data.prepare(name, built["data_dir"])
        next(iter(data.load(name, "train", built["data_dir"])))
    assert time.monotonic() - start < 10.0
    assert _info_mtimes(built["data_dir"]) == before
    assert offline.attempts == []


def test_unprepared_dataset_fails_fast_offline(tmp_path, offline):
    start = time.monotonic()
    with pytest.raises(data.DatasetUnavailableError) as raised:
        data.load("mnist", "train", data_dir=tmp_path)
    elapsed = time.monotonic() - start
    assert elapsed < FAIL_FAST_S, elapsed
    message = str(raised.value)
    assert isinstance(raised.value, RuntimeError)
    assert "TFDS_DATA_DIR" in message
    assert "tfds build mnist --data_dir DIR" in message
    assert "--data-dir" in message and "data_dir=" in message
    assert str(tmp_path) in message
    # Only the quick probe went out: no download was tried.
    assert {name for name, _ in offline.attempts} == {"connect"}


def test_fails_fast_when_the_probe_hangs(tmp_path, monkeypatch):
    release = threading.Event()

    def hang(address, timeout=None, **kwargs):
        release.wait(30.0)  # Like a DNS lookup that never answers.
        raise OSError("no route")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    try:
        with pytest.raises(data.DatasetUnavailableError, match="within"):
            data.load("mnist", "train", data_dir=tmp_path)
    finally:
        release.set()
    elapsed = time.monotonic() - start
    assert loading.PROBE_TIMEOUT_S <= elapsed + 0.1
    assert elapsed < FAIL_FAST_S, elapsed


def test_download_false_never_downloads(tmp_path, offline):
    with pytest.raises(data.DatasetUnavailableError, match="download=False"):
        data.prepare("mnist", tmp_path, download=False)
    assert offline.attempts == []


def test_prepared_external_dataset_loads_offline(tmp_path, offline):
    """A prepared `mnist` dir (here with 12 blank images) is read as is."""
    mnist = type(tfds.builder("mnist", data_dir=os.fspath(tmp_path)))

    def examples(n):
        for i in range(n):
            image = np.full((28, 28, 1), i, np.uint8)
            yield i, {"image": image, "label": i % 10}

    def tiny_splits(self, dl_manager):
        return {"train": examples(8), "test": examples(4)}

    def no_rebuild(self, dl_manager):
        raise AssertionError("mnist was rebuilt")

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(mnist, "_split_generators", tiny_splits)
        tfds.builder(
            "mnist", data_dir=os.fspath(tmp_path)
        ).download_and_prepare()
        monkeypatch.setattr(mnist, "_split_generators", no_rebuild)
        x, y = data.as_arrays("mnist", "train", tmp_path)
    assert x.shape == (8, 28, 28, 1) and x.dtype == np.uint8
    # mnist's builder shuffles on write: compare as sets of (image, label).
    np.testing.assert_array_equal(np.sort(x[:, 0, 0, 0]), np.arange(8))
    np.testing.assert_array_equal(y, x[:, 0, 0, 0] % 10)
    assert offline.attempts == []


def test_mock_data_serves_mnist_without_network(tmp_path, offline):
    with tfds.testing.mock_data(num_examples=8):
        ds = data.load("mnist", "train", data_dir=tmp_path)
        spec = ds.element_spec
        assert set(spec) == {"image", "label"}
        assert spec["image"].shape == (28, 28, 1)
        assert spec["image"].dtype == np.uint8
        assert spec["label"].shape == () and spec["label"].dtype == np.int64
        examples = list(ds.as_numpy_iterator())
        assert len(examples) == 8
        assert all(0 <= e["label"] < 10 for e in examples)

        x, y = data.as_arrays("mnist", "train", tmp_path)
        assert x.shape == (8, 28, 28, 1) and y.shape == (8,)
    assert offline.attempts == []


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)
    home = os.path.expanduser("~")
    assert data.default_data_dir() == os.path.join(home, "tensorflow_datasets")
    monkeypatch.setenv("TFDS_DATA_DIR", os.fspath(tmp_path / "env"))
    assert data.default_data_dir() == os.fspath(tmp_path / "env")
    assert data.default_data_dir(tmp_path) == os.fspath(tmp_path)
