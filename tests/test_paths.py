"""Optimizer paths on 2-D surfaces: `python -m keras_optim_zoo paths`."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_optim_zoo import __main__ as cli
from keras_optim_zoo.compare import paths
from tests.test_compare import assert_png


@pytest.mark.parametrize("name", list(paths.SURFACES))
def test_marked_minima_are_stationary_points(name):
    surface = paths.SURFACES[name]
    for minimum in surface.minima:
        point = tf.Variable(np.asarray(minimum, "float32"))
        with tf.GradientTape() as tape:
            value = surface.fn(point[0], point[1])
        gradient = tape.gradient(value, point).numpy()
        assert np.abs(gradient).max() < 2e-2, (minimum, gradient)
    first = surface.minima[0]
    others = surface.minima[1:]
    for other in others:  # The first is the deepest.
        assert surface.fn(*first) < surface.fn(*other)


def test_a_path_is_plain_gradient_descent_for_sgd():
    # On the ravine f = 0.01 x^2 + y^2, SGD is x <- x - lr * 0.02 x and
    # y <- y - lr * 2 y, which the zoo optimizer must reproduce.
    label, points = paths.run_path("ravine", "zoo_sgd:learning_rate=0.3", 6)
    assert label == "zoo_sgd:learning_rate=0.3"
    assert points.shape == (7, 2)
    t = np.arange(7)
    expected = np.stack(
        [-9.0 * (1 - 0.3 * 0.02) ** t, 2.0 * (1 - 0.3 * 2) ** t], axis=1
    )
    np.testing.assert_allclose(points, expected, rtol=1e-5, atol=1e-6)


def test_default_rates_and_json_configs():
    label, points = paths.run_path("ravine", "zoo_adam", 2)
    assert label == "zoo_adam (lr=0.3)"
    # Adam's first step moves each coordinate by about the learning rate.
    np.testing.assert_allclose(
        np.abs(points[1] - points[0]), [0.3, 0.3], rtol=1e-3
    )
    config = '{"class_name": "zoo_rmsprop", "config": {"learning_rate": 0.01}}'
    label, _ = paths.run_path("beale", config, 1)
    assert label.startswith("zoo_rmsprop(learning_rate=0.01")


@pytest.mark.slow
def test_momentum_escapes_the_shallow_minimum_that_traps_sgd():
    traces = dict(paths.run_paths("two_minima", ["zoo_sgd", "zoo_momentum"]))
    shallow, deep = np.array([-0.95, 0.0]), np.array([1.83, 0.0])
    sgd_end = traces["zoo_sgd (lr=0.05)"][-1]
    momentum_end = traces["zoo_momentum (lr=0.05)"][-1]
    assert np.linalg.norm(sgd_end - shallow) < 0.05
    assert np.linalg.norm(momentum_end - deep) < 0.05


def test_paths_command_writes_png_and_gif(tmp_path, capsys):
    png, gif = tmp_path / "paths.png", tmp_path / "paths.gif"
    status = cli.main(
        [
            "paths",
            "--surfaces",
            "ravine",
            "rosenbrock",
            "--optimizers",
            "zoo_sgd",
            "zoo_momentum:learning_rate=0.0005",
            "--steps",
            "15",
            "--out",
            str(png),
            "--gif",
            str(gif),
            "--gif-frames",
            "5",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "ravine: zoo_sgd (lr=0.9) -> " in printed
    assert "zoo_momentum:learning_rate=0.0005 -> " in printed
    assert_png(png, (1200, 500))
    with Image.open(gif) as image:
        assert image.format == "GIF"
        assert image.size == (480, 400)
        assert image.n_frames == 5
        image.seek(4)
        last = np.asarray(image.convert("RGB"), dtype=float)
    assert last.std() > 10.0
