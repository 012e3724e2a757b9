"""Your own model and data in `compare` (and `tune`): `compare.sources`.

Every model spec (built-in, `module:function`, `file.py:function`,
`.keras` re-initialised or kept), every data form (NumPy, `tf.data`
batched and unbatched, a data function, regression targets), the errors
raised before any training, `train_run`'s divergence and pruning hooks,
and the quiet command line (in a fresh process).
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_optim_zoo import __main__ as cli
from keras_optim_zoo.compare import models, runner, sources

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODEL_MODULE = """
import keras


def build(input_shape, num_outputs):
    return keras.Sequential(
        [keras.Input(input_shape), keras.layers.Dense(num_outputs)]
    )


def compiled():
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=2)],
    )
    return model


def not_a_model(input_shape, num_outputs):
    return {"layers": 2}


def too_few_outputs(input_shape, num_outputs):
    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(2)])
"""

DATA_MODULE = """
import numpy as np


def regression():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6,)).astype("float32")
    x = rng.normal(size=(60, 6)).astype("float32")
    xv = rng.normal(size=(20, 6)).astype("float32")
    return (x, x @ w), (xv, xv @ w)


def unlabelled():
    x = np.zeros((10, 3), "float32")
    return x, x


def three():
    return 1, 2, 3
"""


def classification(n=48, n_val=16, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    xv = rng.normal(size=(n_val, features)).astype("float32")
    return (x, rng.integers(0, classes, n)), (
        xv,
        rng.integers(0, classes, n_val),
    )


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    """`zoo_user_models` and `zoo_user_data` on sys.path; returns the dir."""
    (tmp_path / "zoo_user_models.py").write_text(MODEL_MODULE)
    (tmp_path / "zoo_user_data.py").write_text(DATA_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("zoo_user_models", "zoo_user_data"):
        sys.modules.pop(name, None)


def kernels(model):
    return [w.numpy() for w in model.trainable_weights]


# ---------------------------------------------------------------- models


def test_builtin_models_have_the_papers_shapes():
    cnn1d = models.cnn1d((40,), 10)
    assert cnn1d.count_params() == 5210  # the paper's ConvBase
    assert [layer.output.shape[1] for layer in cnn1d.layers[2:7:2]] == [
        19,
        10,
        5,
    ]
    assert models.cnn((8, 8, 1), 10).output_shape == (None, 10)
    assert models.cnn((8, 8), 10).count_params() == 21386
    assert models.mlp((40,), 10).count_params() == 15210
    with pytest.raises(ValueError, match="'cnn' takes images"):
        models.cnn((40,), 10)
    with pytest.raises(ValueError, match="'cnn1d' takes sequences"):
        models.cnn1d((8, 8, 1, 1), 10)


def test_module_function_and_file_function(user_modules):
    data = sources.resolve_data(classification())
    by_module = sources.resolve_model("zoo_user_models:build")
    by_file = sources.resolve_model(
        f"{user_modules / 'zoo_user_models.py'}:build"
    )
    assert by_module.label == "zoo_user_models:build"
    for source in (by_module, by_file):
        model = source.build(data.input_shape, 3, seed=0)
        assert model.output_shape == (None, 3)
    # Same function, same seed: the same initial weights either way.
    a = by_module.build((6,), 3, seed=4)
    b = by_file.build((6,), 3, seed=4)
    for u, v in zip(kernels(a), kernels(b), strict=True):
        np.testing.assert_array_equal(u, v)


def test_a_compiled_model_brings_its_loss_and_metrics(user_modules):
    data = sources.resolve_data(classification())
    record = runner.train_run(
        "zoo_adam", {}, data, "zoo_user_models:compiled", 0, 1, 16
    )
    assert record["metrics"] == ["sparse_top_k_categorical_accuracy"]
    assert "final_val_sparse_top_k_categorical_accuracy" in record
    assert "accuracy" not in record["history"]


def test_loss_and_from_logits_defaults(user_modules):
    data = sources.resolve_data(classification())
    logits = sources.resolve_model("mlp")
    model = logits.build(data.input_shape, 3, seed=0, sample=data.sample())
    logits.compile(model, keras.optimizers.SGD(), data.task)
    assert model.loss.get_config()["from_logits"] is True
    # Softmax output, string loss option: from_logits inferred False.
    softmax = sources.resolve_model(
        lambda shape, n: keras.Sequential(
            [keras.Input(shape), keras.layers.Dense(n, activation="softmax")]
        ),
        loss="sparse_categorical_crossentropy",
    )
    model = softmax.build(data.input_shape, 3, seed=0, sample=data.sample())
    softmax.compile(model, keras.optimizers.SGD(), data.task)
    assert model.loss.get_config()["from_logits"] is False
    huber = sources.resolve_model("mlp", loss="huber:delta=0.5")
    model = huber.build((6,), 1, seed=0)
    huber.compile(model, keras.optimizers.SGD(), data.task)
    assert isinstance(model.loss, keras.losses.Huber)
    # delta * (|error| - delta / 2) for |error| = 2 > delta = 0.5
    assert float(model.loss(np.zeros(1), np.full(1, 2.0))) == 0.875


def saved_model(path):
    """A compiled model with an adapted `Normalization`, saved to `path`."""
    keras.utils.set_random_seed(7)
    norm = keras.layers.Normalization()
    norm.adapt(np.random.default_rng(1).normal(3.0, 2.0, (50, 6)))
    model = keras.Sequential(
        [
            keras.Input((6,)),
            norm,
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3),
        ]
    )
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.save(path)
    return model


def test_saved_model_reinitialised_per_seed_or_kept(tmp_path):
    path = tmp_path / "model.keras"
    original = saved_model(path)
    saved = kernels(original)
    fresh = sources.resolve_model(str(path))
    assert fresh.label.endswith("(re-initialised per seed)")
    seed0, again, seed1 = (fresh.build((6,), 3, seed=s) for s in (0, 0, 1))
    for a, b, c, s in zip(
        kernels(seed0), kernels(again), kernels(seed1), saved, strict=True
    ):
        np.testing.assert_array_equal(a, b)  # same seed, same weights
        if a.ndim == 2:  # kernels (biases start at zero)
            assert not np.array_equal(a, c)
            assert not np.array_equal(a, s)
    # The adapted normalisation is state, not a learned weight: kept.
    np.testing.assert_allclose(
        seed1.layers[0].mean, original.layers[0].mean, rtol=1e-6
    )
    assert seed0.compiled  # with the file's loss and metrics
    kept = sources.resolve_model(str(path), keep_weights=True)
    assert kept.label.endswith("(saved weights)")
    for a, s in zip(kernels(kept.build((6,), 3, seed=5)), saved, strict=True):
        np.testing.assert_array_equal(a, s)
    data = sources.resolve_data(classification())
    record = runner.train_run("zoo_sgd", {}, data, kept, 0, 1, 16)
    assert record["metrics"] == ["accuracy"]


# ---------------------------------------------------------------- data


def test_regression_data_function_gives_mae_columns(user_modules):
    lines = []
    results = runner.compare(
        ["zoo_sgd:learning_rate=0.01", "zoo_adam"],
        "zoo_user_data:regression",
        model="mlp",
        epochs=2,
        batch_size=20,
        progress=lines.append,
    )
    assert all(r["metrics"] == ["mae"] for r in results)
    assert "val mae" in lines[0] and "accuracy" not in lines[0]
    table = runner.format_table(results)
    head = table.splitlines()[0]
    assert "final val mae" in head and "best val loss" in head
    assert "acc" not in head
    for r in results:
        run = r["runs"][0]
        assert run["best_val_mae"] == min(run["history"]["val_mae"])
    maes = [r["summary"]["final_val_mae"]["mean"] for r in results]
    rows = [line.split()[0] for line in table.splitlines()[2:]]
    assert rows[0] == results[int(np.argmin(maes))]["label"]  # lowest first
    data = sources.resolve_data(
        f"{user_modules / 'zoo_user_data.py'}:regression"
    )
    assert data.task == sources.Task("regression", "values", 1)


def test_tf_data_batched_or_not_trains_as_numpy():
    (x, y), (xv, yv) = pair = classification()
    numpy_run = runner.train_run("zoo_sgd", {}, pair, "mlp", 3, 2, 16)
    unbatched = (
        tf.data.Dataset.from_tensor_slices((x, y)),
        tf.data.Dataset.from_tensor_slices((xv, yv)),
    )
    batched = (unbatched[0].batch(7), unbatched[1].batch(5))
    for datasets in (unbatched, batched):
        data = sources.resolve_data(datasets)
        assert not data.streaming and data.num_train == 48
        run = runner.train_run("zoo_sgd", {}, data, "mlp", 3, 2, 16)
        assert run["history"] == numpy_run["history"]
        assert run["steps"]["loss"] == numpy_run["steps"]["loss"]


def test_a_large_dataset_streams_in_the_same_order_for_every_optimizer(
    monkeypatch,
):
    (x, y), (xv, yv) = classification()
    monkeypatch.setattr(sources, "MATERIALIZE_LIMIT_BYTES", 100)
    data = sources.resolve_data(
        (
            tf.data.Dataset.from_tensor_slices((x, y)).batch(8),
            tf.data.Dataset.from_tensor_slices((xv, yv)),
        ),
        train_examples=40,
    )
    assert data.streaming and data.num_train == 40
    assert data.task.num_outputs == 3 and data.input_shape == (6,)
    sgd = runner.train_run("zoo_sgd", {}, data, "mlp", 1, 2, 16)
    adam = runner.train_run("zoo_adam", {}, data, "mlp", 1, 2, 16)
    assert len(sgd["steps"]["loss"]) == 6  # 16, 16, 8 per epoch
    assert sgd["steps"]["loss"][0] == pytest.approx(adam["steps"]["loss"][0])


def test_detect_task_rules():
    detect = sources.detect_task
    assert detect(np.array([0, 2, 1]), np.array([4])).num_outputs == 5
    assert detect(np.eye(4, dtype="float32")) == sources.Task(
        "classification", "one_hot", 4
    )
    assert detect(np.array([[1, 1, 0], [0, 0, 0]])).kind == "multilabel"
    assert detect(np.array([0.0, 1.0, 1.0])) == sources.Task(
        "classification", "sparse", 2
    )
    assert detect(np.zeros((5, 3), "float32") + 0.5) == sources.Task(
        "regression", "values", 3
    )
    with pytest.raises(sources.SourceError, match="map them to integer"):
        detect(np.array(["cat", "dog"]))
    with pytest.raises(sources.SourceError, match="include -1"):
        detect(np.array([-1, 0, 1]))
    assert sources.metric_direction("val_accuracy") == "max"
    assert sources.metric_direction("mae") == "min"
    assert sources.metric_direction("root_mean_squared_error") == "min"
    assert sources.metric_direction("auc") == "max"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "spec, message",
    [
        ("zoo_user_models:not_a_model", "returned a dict .* not a keras.Model"),
        ("zoo_user_models:biuld", "no attribute 'biuld'. Did you mean: build"),
        ("zoo_no_such_module:build", "no module named 'zoo_no_such_module'"),
        ("missing_dir/models.py:build", "no file .*missing_dir"),
        ("mpl", "Unknown model 'mpl'.*Did you mean: mlp"),
        ("missing.keras", "no file"),
        ("zoo_user_models:too_few_outputs", "outputs 2 values .* 3 classes"),
    ],
)
def test_model_errors_before_training(user_modules, spec, message):
    data = sources.resolve_data(classification())
    with pytest.raises(sources.SourceError, match=message):
        sources.resolve_model(spec).check(data)


def test_unloadable_keras_file(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"not a zip file")
    with pytest.raises(sources.SourceError, match="load_model failed"):
        sources.resolve_model(str(path))
    with pytest.raises(sources.SourceError, match="keep_weights applies"):
        sources.resolve_model("mlp", keep_weights=True)
    with pytest.raises(sources.SourceError, match="Unknown loss"):
        sources.resolve_model("mlp", loss="no_such_loss")
    with pytest.raises(sources.SourceError, match="Unknown metric"):
        sources.resolve_model("mlp", metrics=["no_such_metric"])


def test_data_errors(user_modules):
    x = np.zeros((10, 3), "float32")
    y = np.zeros(10, "int64")
    cases = [
        ("zoo_user_data:unlabelled", "has no labels"),
        ("zoo_user_data:three", r"returned a tuple .*expected \(train, val\)"),
        ("zoo_user_data:nothing", "has no attribute 'nothing'"),
        (
            ((x, y[:7]), (x, y)),
            "different lengths .*inputs \\[10\\], labels \\[7\\]",
        ),
        (((x, y, y), (x, y)), "sample weights are not supported"),
        (
            (tf.data.Dataset.from_tensor_slices(x), (x, y)),
            "single tensors .*: no labels",
        ),
        (
            (
                tf.data.Dataset.from_tensor_slices({"image": x, "label": y}),
                (x, y),
            ),
            "dicts with keys \\['image', 'label'\\]",
        ),
        (
            (tf.data.Dataset.from_tensor_slices((x, y)).repeat(), (x, y)),
            "infinite",
        ),
        (((x, y), (np.zeros((4, 5), "float32"), y[:4])), "shape \\(3,\\)"),
    ]
    for spec, message in cases:
        with pytest.raises(sources.SourceError, match=message):
            sources.resolve_data(spec)


def test_unknown_tfds_name_keeps_the_tfds_message():
    import tensorflow_datasets as tfds

    with pytest.raises(
        tfds.core.registered.DatasetNotFoundError, match="mnist"
    ):
        sources.resolve_data("mnist1dd")


# ---------------------------------------------------------------- runs


def test_train_run_reports_divergence_instead_of_raising():
    record = runner.train_run(
        "zoo_sgd", {"learning_rate": 1e6}, classification(), "mlp", 0, 3, 16
    )
    assert record["diverged"] is True
    assert record["epochs"] == 1 and len(record["steps"]["loss"]) <= 3
    results = runner.compare(
        ["zoo_sgd:learning_rate=1000000.0", "zoo_sgd"],
        classification(),
        epochs=2,
        batch_size=16,
        progress=lambda _: None,
    )
    diverged, fine = results
    assert diverged["diverged"] == 1 and fine["diverged"] == 0
    run = diverged["runs"][0]
    assert len(run["history"]["val_loss"]) == 2  # padded with NaN
    assert len(run["steps"]["loss"]) == 6
    table = runner.format_table(results)
    assert table.splitlines()[-1].split()[-1] == "1/1"  # last: diverged


def test_on_epoch_end_sees_the_history_and_may_stop_the_run():
    seen = []

    class Pruned(Exception):
        pass

    def on_epoch_end(epoch, history):
        seen.append((epoch, len(history["val_loss"]), history["val_accuracy"]))
        if epoch == 1:
            raise Pruned

    with pytest.raises(Pruned):
        runner.train_run(
            "zoo_adam",
            {},
            classification(),
            "mlp",
            0,
            5,
            16,
            on_epoch_end=on_epoch_end,
        )
    assert [(e, n) for e, n, _ in seen] == [(0, 1), (1, 2)]


# ---------------------------------------------------------------- CLI


def test_compare_command_with_your_model_and_data(
    user_modules, tmp_path, capsys
):
    out = tmp_path / "out"
    status = cli.main(
        [
            "compare",
            "--model",
            "zoo_user_models:build",
            "--data",
            f"{user_modules / 'zoo_user_data.py'}:regression",
            "--optimizers",
            "zoo_adam",
            "--epochs",
            "1",
            "--batch-size",
            "20",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "regression, 1 target; model zoo_user_models:build" in printed
    assert "final val mae" in printed
    record = json.loads((out / "results.json").read_text())
    assert record["results"][0]["metrics"] == ["mae"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "zoo_user_models:not_a_model"], "not a keras.Model"),
        (["--model", "nope.keras"], "no file"),
        (["--data", "zoo_user_data:unlabelled"], "has no labels"),
        (["--data", "mnist1dd"], "mnist1d"),
        (["--loss", "no_such_loss"], "Unknown loss"),
    ],
)
def test_compare_command_rejects_bad_sources(
    user_modules, argv, message, capsys
):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", *argv, "--epochs", "1"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_top_level_help(capsys):
    assert cli.main(["--help"]) == 0
    printed = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert f"\n  {name} " in printed
    assert cli.main([]) == 2


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_command_line_is_quiet(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_OPTIM_ZOO_QUIET")
    }
    env["TFDS_DATA_DIR"] = str(tmp_path / "tfds")  # first use: a TFDS build

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "keras_optim_zoo", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    shown = run("--help")
    assert shown.returncode == 0, shown.stderr
    assert "compare" in shown.stdout and shown.stderr == ""
    done = run(
        "compare",
        "--optimizers",
        "zoo_sgd",
        "--epochs",
        "1",
        "--train-examples",
        "200",
        "--out",
        str(tmp_path / "out"),
    )
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    noisy = [
        line
        for line in lines
        if any(
            word in line
            for word in ("cuInit", "absl", "oneDNN", "I0000", "Generating")
        )
    ]
    assert noisy == []
    assert lines[0].startswith("Loading mnist1d through tfds.load")
    assert done.stderr == ""
