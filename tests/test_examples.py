"""The scripts in `examples/`: help, a smoke run each, and offline failure.

Smoke runs use `tfds.testing.mock_data` (random data of each dataset's
shapes, no files, no network). The offline tests block Python's sockets,
as `tests/test_data.py` does, and give each example an empty data
directory: it must stop within seconds with `DatasetUnavailableError`'s
instructions, not retry downloads for minutes.
"""

import importlib.util
import json
import pathlib
import socket
import time

import keras
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from tests.test_compare import assert_png

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
NAMES = [
    "mnist_mlp",
    "cifar10_resnet",
    "mnist1d_adam",
    "imdb_text",
    "lr_range_test",
]
DOWNLOADING = ["mnist_mlp", "cifar10_resnet", "imdb_text"]
FAIL_FAST_S = 5.0


def load_example(name):
    """Imports `examples/<name>.py` as a module."""
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", EXAMPLES / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "tfds"
    path.mkdir()
    monkeypatch.setenv("TFDS_DATA_DIR", str(path))
    return path


@pytest.fixture
def offline(monkeypatch):
    """Blocks Python's sockets; returns the list of attempts."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[:2])
        raise OSError("network blocked by test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def smoke(name, out, *extra):
    """Runs an example with `--smoke` under mock data; returns its record."""
    with tfds.testing.mock_data(num_examples=24):
        status = load_example(name).main(
            ["--smoke", "--batch-size", "8", "--out", str(out), *extra]
        )
    assert status == 0
    model = keras.models.load_model(out / "model.keras")
    record = json.loads((out / "history.json").read_text())
    assert record["args"]["epochs"] == 1
    assert record["args"]["steps_per_epoch"] == 3
    for key, values in record["history"].items():
        assert len(values) == 1, key
    return model, record


@pytest.mark.parametrize("name", NAMES)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_example(name).main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--data-dir", "--epochs", "--steps-per-epoch", "--smoke"):
        assert option in text
    assert "--out" in text


@pytest.mark.parametrize("name", DOWNLOADING)
def test_fails_fast_offline_with_instructions(name, data_dir, offline, capsys):
    start = time.monotonic()
    status = load_example(name).main(["--smoke", "--out", str(data_dir)])
    elapsed = time.monotonic() - start
    assert status == 1
    assert elapsed < FAIL_FAST_S
    captured = capsys.readouterr()
    assert "DOWNLOADED" in captured.out  # said up front
    assert "is not prepared in" in captured.err
    assert "--data-dir" in captured.err
    assert "no download was attempted" in captured.err
    assert not (data_dir / "model.keras").exists()


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_mnist_mlp_smoke(dataset, tmp_path, capsys):
    model, record = smoke("mnist_mlp", tmp_path, "--dataset", dataset)
    assert model.input_shape == (None, 28, 28, 1)
    assert model.optimizer.registered_name == "zoo_nesterov"
    assert record["args"]["dataset"] == dataset
    assert set(record["history"]) >= {"loss", "val_accuracy"}
    assert "Training an MLP on " + dataset in capsys.readouterr().out


@pytest.mark.slow
def test_cifar10_resnet_smoke(tmp_path):
    model, record = smoke("cifar10_resnet", tmp_path, "--quiet")
    assert model.output_shape == (None, 10)
    optimizer = model.optimizer
    assert optimizer.registered_name == "zoo_nesterov"
    # 1cycle: after 3 of 4 steps the rate is annealing, the momentum back
    # above its base.
    assert type(optimizer._learning_rate).__name__ == "OneCycle"
    assert 0.85 < float(optimizer.momentum) <= 0.95
    assert "val_accuracy" in record["history"]


def test_mnist1d_adam_smoke(tmp_path, capsys):
    model, record = smoke("mnist1d_adam", tmp_path)
    assert model.input_shape == (None, 40)
    assert model.optimizer.registered_name == "zoo_adam"
    assert type(model.optimizer._learning_rate).__name__ == "WarmupCosine"
    assert "paper's MLP reaches 0.68" in capsys.readouterr().out


def test_imdb_text_has_sparse_embedding_gradients(tmp_path, capsys):
    model, record = smoke("imdb_text", tmp_path, "--quiet")
    assert record["embedding_gradient"] == "IndexedSlices"
    assert "Embedding gradient: IndexedSlices (sparse)" in (
        capsys.readouterr().out
    )
    vocabulary = json.loads((tmp_path / "vocabulary.json").read_text())
    assert model.get_layer("embedding").input_dim == len(vocabulary)
    assert set(record["history"]) >= {"loss", "val_binary_accuracy"}


def test_lr_range_test_smoke(tmp_path):
    model, record = smoke("lr_range_test", tmp_path, "--max-lr", "1.0")
    sweep = record["range_test"]
    assert 2 <= len(sweep["losses"]) <= 10
    assert sweep["learning_rates"] == sorted(sweep["learning_rates"])
    assert sweep["learning_rates"][0] == pytest.approx(1e-5)
    assert 0 < sweep["suggested_lr"] <= 1.0
    assert float(model.optimizer.learning_rate) == pytest.approx(
        sweep["suggested_lr"], rel=1e-6
    )
    # The finder draws the plot (its size is its own): a real, drawn PNG.
    with Image.open(tmp_path / "lr_range.png") as image:
        assert image.format == "PNG"
        width, height = image.size
    assert width >= 300 and height >= 200
    assert_png(tmp_path / "lr_range.png", (width, height))
