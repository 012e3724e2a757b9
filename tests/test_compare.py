"""`python -m keras_optim_zoo compare` and `plot-schedule`, and their parts.

Smoke runs use `tfds.testing.mock_data` (random MNIST-1D-shaped data); one
test trains on the real offline `digits8x8` through `tfds.load`.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from keras_optim_zoo import __main__ as cli
from keras_optim_zoo import compare, schedules

WARMUP_COSINE = {
    "class_name": "zoo_warmup_cosine",
    "config": {
        "peak_learning_rate": 0.05,
        "warmup_steps": 3,
        "decay_steps": 8,
    },
}


def assert_png(path, size):
    """`path` is a PNG of `size` pixels that is not blank."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == size
        assert image.mode in ("RGB", "RGBA")
        pixels = np.asarray(image.convert("RGB"), dtype=float)
    assert pixels.std() > 10.0  # Drawn, not a blank canvas.


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "tfds"
    monkeypatch.setenv("TFDS_DATA_DIR", str(path))
    return path


def test_split_arguments_keeps_brackets_together():
    parsed = compare.split_arguments(
        "initial_learning_rate=0.1, milestones=[400, 800],name=x"
    )
    assert parsed == {
        "initial_learning_rate": 0.1,
        "milestones": [400, 800],
        "name": "x",
    }
    with pytest.raises(ValueError, match="expected key=value"):
        compare.split_arguments("learning_rate")


def test_parse_schedule_from_name_and_json():
    by_name = compare.parse_schedule(
        "zoo_multistep:initial_learning_rate=0.1,milestones=[2, 4]"
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(by_name(keras.ops.arange(6))),
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001],
        rtol=1e-6,
    )
    by_json = compare.parse_schedule(json.dumps(WARMUP_COSINE))
    assert type(by_json).__name__ == "WarmupCosine"
    with pytest.raises(KeyError, match="zoo_cosine"):
        compare.parse_schedule("zoo_cosin:decay_steps=3")


def test_parse_config_accepts_a_schedule_as_learning_rate():
    text = json.dumps(
        {"class_name": "zoo_adam", "config": {"learning_rate": WARMUP_COSINE}}
    )
    label, identifier, overrides = compare.parse_config(text)
    assert label.startswith("zoo_adam(learning_rate=zoo_warmup_cosine(")
    assert "peak_learning_rate=0.05" in label
    assert identifier["class_name"] == "zoo_adam" and overrides == {}
    with pytest.raises(ValueError, match="learning_rate"):
        compare.parse_config("zoo_sgd:learning_rate=-1")


def test_step_recorder_gives_each_batch_loss_and_applied_rate():
    # 60 examples in batches of 16: 16, 16, 16 and 12 (the uneven last
    # batch checks the size weighting of Keras's running mean).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)).astype("float32")
    y = rng.integers(0, 3, size=60)
    schedule = schedules.get(WARMUP_COSINE)
    keras.utils.set_random_seed(0)
    model = compare.MODELS["mlp"]((5,), 3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    first_batch_loss = float(loss_fn(y[:16], model(x[:16])))
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss=loss_fn)
    recorder = compare.StepRecorder(len(x), 16)
    history = model.fit(
        x, y, batch_size=16, epochs=2, shuffle=False, callbacks=[recorder]
    )
    expected_rates = keras.ops.convert_to_numpy(schedule(np.arange(8)))
    np.testing.assert_allclose(recorder.learning_rate, expected_rates)
    assert recorder.learning_rate[0] == 0.0  # warm-up starts at 0
    assert len(recorder.loss) == 8
    np.testing.assert_allclose(recorder.loss[0], first_batch_loss, rtol=1e-5)
    sizes = np.array([16, 16, 16, 12])
    for epoch in range(2):
        losses = np.array(recorder.loss[4 * epoch : 4 * epoch + 4])
        np.testing.assert_allclose(
            (losses * sizes).sum() / 60,
            history.history["loss"][epoch],
            rtol=1e-5,
        )


def test_compare_with_a_schedule_for_every_config():
    rng = np.random.default_rng(1)
    train = rng.normal(size=(40, 6)).astype("float32"), rng.integers(0, 2, 40)
    test = rng.normal(size=(10, 6)).astype("float32"), rng.integers(0, 2, 10)
    lines = []
    results = compare.compare(
        ["zoo_sgd", "zoo_momentum:momentum=0.5"],
        (train, test),
        epochs=2,
        batch_size=10,
        seeds=[3],
        schedule="zoo_linear:start=0.1,end=0.0,steps=8",
        progress=lines.append,
    )
    assert [r["label"] for r in results] == [
        "zoo_sgd @ zoo_linear:start=0.1,end=0.0,steps=8",
        "zoo_momentum:momentum=0.5 @ zoo_linear:start=0.1,end=0.0,steps=8",
    ]
    assert len(lines) == 2 and "seed 3" in lines[0]
    for result in results:
        rates = result["runs"][0]["steps"]["learning_rate"]
        np.testing.assert_allclose(rates, 0.1 - 0.0125 * np.arange(8))
    # Same seed, same initial weights and data: the first batch's loss is
    # the same under both optimizers.
    first = [r["runs"][0]["steps"]["loss"][0] for r in results]
    assert first[0] == pytest.approx(first[1], rel=1e-6)


@pytest.mark.slow
def test_compare_command_writes_table_json_and_plot(tmp_path, capsys):
    out = tmp_path / "out"
    adam_warmup = json.dumps(
        {"class_name": "zoo_adam", "config": {"learning_rate": WARMUP_COSINE}}
    )
    with tfds.testing.mock_data(num_examples=64):
        status = cli.main(
            [
                "compare",
                "--optimizers",
                "zoo_sgd:learning_rate=0.1",
                adam_warmup,
                "--seeds",
                "0",
                "1",
                "--epochs",
                "2",
                "--batch-size",
                "16",
                "--out",
                str(out),
            ]
        )
    assert status == 0
    printed = capsys.readouterr().out
    assert "final val acc" in printed and "seed 1" in printed
    assert_png(out / "compare.png", (1200, 900))
    assert "| zoo_sgd:learning_rate=0.1 |" in (out / "results.md").read_text()

    record = json.loads((out / "results.json").read_text())
    assert record["args"]["seeds"] == [0, 1]
    sgd, adam = sorted(record["results"], key=lambda r: r["label"])[::-1]
    assert sgd["label"] == "zoo_sgd:learning_rate=0.1"
    assert sgd["steps_per_epoch"] == 4
    for result in (sgd, adam):
        assert set(result["summary"]) == {
            "final_val_accuracy",
            "best_val_accuracy",
            "final_val_loss",
            "best_val_loss",
            "wall_s",
        }
        assert [r["seed"] for r in result["runs"]] == [0, 1]
        for run in result["runs"]:
            assert len(run["steps"]["loss"]) == 8
            assert len(run["history"]["val_accuracy"]) == 2
            assert run["best_val_accuracy"] == max(
                run["history"]["val_accuracy"]
            )
            assert np.isfinite(run["steps"]["loss"]).all()
    assert sgd["runs"][0]["steps"]["learning_rate"] == pytest.approx([0.1] * 8)
    np.testing.assert_allclose(
        adam["runs"][1]["steps"]["learning_rate"],
        keras.ops.convert_to_numpy(schedules.get(WARMUP_COSINE)(np.arange(8))),
        rtol=1e-6,
    )


@pytest.mark.slow
def test_mlp_learns_the_real_digits8x8_offline(data_dir, tmp_path):
    # The real data, built offline through tfds.load on first use.
    out = tmp_path / "digits"
    status = cli.main(
        [
            "compare",
            "--dataset",
            "digits8x8",
            "--optimizers",
            "zoo_adam",
            "--epochs",
            "12",
            "--batch-size",
            "32",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    assert (data_dir / "digits8x8").is_dir()
    [result] = json.loads((out / "results.json").read_text())["results"]
    assert result["runs"][0]["best_val_accuracy"] > 0.9
    losses = result["runs"][0]["steps"]["loss"]
    assert len(losses) == 12 * 45  # 1,437 examples in batches of 32
    assert np.mean(losses[-45:]) < 0.5 * np.mean(losses[:45])


def test_plot_schedule_command(tmp_path, capsys):
    out = tmp_path / "one_cycle.png"
    status = cli.main(
        [
            "plot-schedule",
            "zoo_one_cycle:max_learning_rate=0.1,total_steps=100",
            "--steps",
            "100",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    assert_png(out, (700, 400))
    printed = capsys.readouterr().out
    assert "max 0.1 at step 29" in printed


def test_plot_schedule_accepts_json_and_log_axis(tmp_path):
    from keras_optim_zoo.compare import paths

    values = paths.plot_schedule(
        json.dumps(WARMUP_COSINE), 10, tmp_path / "s.png", log=True
    )
    np.testing.assert_allclose(
        values,
        keras.ops.convert_to_numpy(schedules.get(WARMUP_COSINE)(np.arange(10))),
        rtol=1e-6,
    )
    assert_png(tmp_path / "s.png", (700, 400))


def test_unknown_command_prints_usage(capsys):
    assert cli.main(["nope"]) == 2
    assert "compare,tune,paths,plot-schedule" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--optimizers", "zoo_adm"], "Did you mean: zoo_adam"),
        (
            ["compare", "--schedule", "zoo_linear:start=-1,end=0,steps=2"],
            "received start=-1",
        ),
        (
            ["plot-schedule", "zoo_cosin", "--steps", "3", "--out", "x.png"],
            "Did you mean: zoo_cosine",
        ),
        (["paths", "--optimizers", "zoo_sgd:lr"], "expected key=value"),
    ],
)
def test_bad_configurations_stop_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
