"""The callbacks, each inside a real `model.fit`, checked against numbers.

Models are a single `Dense` layer on a linear-regression problem, so that
a numpy oracle can follow SGD with momentum exactly; train steps are not
XLA-compiled as a whole (the optimizer's own update is), to keep the
suite fast.
"""

import csv
import importlib.util
import json
import os

import keras
import numpy as np
import pytest

import keras_optim_zoo
from keras_optim_zoo import callbacks, schedules
from keras_optim_zoo.callbacks import finder as finder_module
from keras_optim_zoo.schedules.scaled import AdjustableScale

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N, BATCH = 32, 8  # 4 steps per epoch


def _data():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, 4)).astype("float32")
    w = rng.standard_normal((4, 2)).astype("float32")
    return x, (x @ w + 0.5).astype("float32")


X, Y = _data()


def _model(optimizer):
    keras.utils.set_random_seed(11)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    return model


def _fit(model, epochs=2, callbacks_=(), **kwargs):
    return model.fit(
        X,
        Y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks_),
        **kwargs,
    )


def f32(value):
    return float(np.float32(keras.ops.convert_to_numpy(value)))


def at(schedule, steps):
    """`schedule` at each step, one scalar call each, as the optimizer
    calls it (a vectorized call can differ by an ulp: Eigen's SIMD
    packets)."""
    return np.array([f32(schedule(int(t))) for t in steps], "float32")


class Probe(keras.callbacks.Callback):
    """Records, before each batch, the step and the optimizer's values."""

    def __init__(self, *names):
        super().__init__()
        self.names = names
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        opt = self.model.optimizer
        self.seen.append(
            (int(opt.iterations), *(f32(getattr(opt, n)) for n in self.names))
        )


class BatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(dict(logs))


COSINE = dict(
    class_name="zoo_warmup_cosine",
    config=dict(peak_learning_rate=0.1, warmup_steps=3, decay_steps=12),
)


def _cosine():
    return schedules.get(COSINE)


def _long():
    """A schedule still far from its end after the plateau tests."""
    return schedules.get(
        "zoo_cosine", initial_learning_rate=0.05, decay_steps=64
    )


def _momentum_schedule():
    return schedules.get("zoo_one_cycle_momentum", total_steps=12)


# ----------------------------------------------------------------------
# Registry and configs.

EXAMPLES = {
    "zoo_learning_rate_scheduler": dict(schedule=COSINE, mode="epoch"),
    "zoo_hyperparameter_scheduler": dict(
        hyperparameter="beta_1",
        schedule=dict(
            class_name="zoo_one_cycle_momentum", config=dict(total_steps=9)
        ),
    ),
    "zoo_learning_rate_logger": dict(batches=False),
    "zoo_reduce_lr_on_plateau": dict(
        monitor="nll", factor=0.5, patience=2, mode="max", min_lr=1e-5
    ),
    "zoo_learning_rate_finder": dict(min_lr=1e-4, max_lr=1.0, steps=20),
    "zoo_swap_evaluation_weights": dict(swap_on_epoch=True),
    "zoo_skipped_steps_monitor": dict(batches=False),
}


@pytest.mark.parametrize("name", callbacks.list_callbacks())
def test_config_round_trip(name):
    assert name in EXAMPLES, f"add an example for {name} to EXAMPLES"
    callback = callbacks.get(name, **EXAMPLES[name])
    assert type(callback).registered_name == name
    config = callback.get_config()
    serialized = json.loads(
        json.dumps(keras.saving.serialize_keras_object(callback))
    )
    for copy in (
        type(callback).from_config(config),
        keras.saving.deserialize_keras_object(serialized),
        callbacks.get(serialized),
    ):
        assert type(copy) is type(callback)
        assert copy.get_config() == config


def test_invalid_arguments_raise_naming_the_argument():
    cases = [
        (callbacks.LearningRateScheduler, dict(schedule=3), "schedule"),
        (
            callbacks.LearningRateScheduler,
            dict(schedule=_cosine(), mode="x"),
            "mode",
        ),
        (callbacks.ReduceLROnPlateau, dict(factor=1.0), "factor"),
        (callbacks.ReduceLROnPlateau, dict(mode="up"), "mode"),
        (callbacks.LearningRateFinder, dict(min_lr=1.0, max_lr=0.5), "max_lr"),
        (callbacks.LearningRateFinder, dict(mode="log"), "mode"),
    ]
    for cls, args, argument in cases:
        with pytest.raises(ValueError, match=f"`{argument}`"):
            cls(**args)


# ----------------------------------------------------------------------
# LearningRateScheduler and LearningRateLogger.


def test_scheduler_sets_the_schedule_value_before_every_step():
    schedule = _cosine()
    probe, batches = Probe("learning_rate"), BatchLogs()
    model = _model(keras_optim_zoo.get("zoo_momentum", learning_rate=0.5))
    history = _fit(
        model,
        3,
        [
            callbacks.LearningRateScheduler(COSINE),
            callbacks.LearningRateLogger(),
            probe,
            batches,
        ],
    )
    steps = np.arange(12)
    want = at(schedule, steps)
    assert [s for s, _ in probe.seen] == list(steps)
    np.testing.assert_array_equal([lr for _, lr in probe.seen], want)
    # The logger: the rate of the step just taken, at batches and epochs.
    np.testing.assert_array_equal(
        [b["learning_rate"] for b in batches.logs], want
    )
    np.testing.assert_array_equal(
        history.history["learning_rate"], want[[3, 7, 11]]
    )
    assert history.history["momentum"] == [pytest.approx(0.9)] * 3
    # The same numbers as the schedule given to the optimizer itself.
    reference = _model(
        keras_optim_zoo.get("zoo_momentum", learning_rate=schedule)
    )
    reference_history = _fit(reference, 3, [callbacks.LearningRateLogger()])
    assert (
        reference_history.history["learning_rate"]
        == (history.history["learning_rate"])
    )
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_scheduler_epoch_mode_with_a_function():
    seen = []

    def halve(epoch, lr):
        seen.append((epoch, lr))
        return lr / 2

    model = _model(keras_optim_zoo.get("zoo_sgd", learning_rate=0.08))
    history = _fit(
        model,
        4,
        [
            callbacks.LearningRateScheduler(halve, mode="epoch"),
            callbacks.LearningRateLogger(batches=False),
        ],
        initial_epoch=1,
    )
    assert [e for e, _ in seen] == [1, 2, 3]
    assert history.history["learning_rate"] == pytest.approx([0.04, 0.02, 0.01])


def test_scheduler_needs_a_float_learning_rate():
    model = _model(keras_optim_zoo.get("zoo_sgd", learning_rate=_cosine()))
    with pytest.raises(TypeError, match="float learning rate"):
        _fit(model, 1, [callbacks.LearningRateScheduler(_cosine())])


def test_logger_with_a_schedule_and_a_loss_scale_optimizer(tmp_path):
    schedule = _cosine()
    inner = keras_optim_zoo.get("zoo_adam", learning_rate=schedule)
    model = _model(keras.optimizers.LossScaleOptimizer(inner))
    path = str(tmp_path / "log.csv")
    history = _fit(
        model,
        2,
        [callbacks.LearningRateLogger(), keras.callbacks.CSVLogger(path)],
    )
    want = at(schedule, [3, 7])
    np.testing.assert_array_equal(history.history["learning_rate"], want)
    assert history.history["beta_1"] == [pytest.approx(0.9)] * 2
    with open(path) as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_allclose(
        [float(r["learning_rate"]) for r in rows], want, rtol=1e-7
    )
    # A Keras optimizer, whose beta_1 is a plain float, works too.
    model = _model(keras.optimizers.Adam(learning_rate=schedule))
    history = _fit(model, 1, [callbacks.LearningRateLogger()])
    assert history.history["learning_rate"] == [f32(schedule(3))]
    assert history.history["beta_1"] == [0.9]
    assert "d" not in history.history


def test_logger_logs_the_estimate_of_a_learning_rate_free_optimizer():
    batches = BatchLogs()
    optimizer = keras_optim_zoo.get("zoo_prodigy", learning_rate=0.5, d0=1e-3)
    model = _model(optimizer)
    history = _fit(model, 2, [callbacks.LearningRateLogger(), batches])
    assert history.history["d"][-1] == optimizer.d > 1e-3  # it grew
    assert [b["d"] for b in batches.logs][-1] == optimizer.d
    np.testing.assert_allclose(
        history.history["effective_learning_rate"],
        np.array(history.history["d"]) * 0.5,
    )


# ----------------------------------------------------------------------
# HyperparameterScheduler.


def _sgd_momentum_oracle(x, y, w, b, lrs, mus, epochs):
    """Keras-form SGD with momentum on MSE, float64, per-step lr and mu."""
    w, b = w.astype("float64"), b.astype("float64")
    mw, mb = np.zeros_like(w), np.zeros_like(b)
    t = 0
    for _ in range(epochs):
        for i in range(0, N, BATCH):
            xb, yb = x[i : i + BATCH].astype("float64"), y[i : i + BATCH]
            err = xb @ w + b - yb
            gw = 2 * xb.T @ err / err.size
            gb = 2 * err.sum(0) / err.size
            mw = mus[t] * mw - lrs[t] * gw
            mb = mus[t] * mb - lrs[t] * gb
            w, b, t = w + mw, b + mb, t + 1
    return w, b


def test_hyperparameter_scheduler_sets_momentum_every_step():
    momentum = _momentum_schedule()
    probe = Probe("learning_rate", "momentum")
    model = _model(keras_optim_zoo.get("zoo_momentum", learning_rate=0.05))
    w0, b0 = model.get_weights()
    history = _fit(
        model,
        3,
        [
            callbacks.HyperparameterScheduler("momentum", momentum),
            callbacks.LearningRateLogger(),
            probe,
        ],
    )
    want = at(momentum, range(12))
    np.testing.assert_array_equal([m for *_, m in probe.seen], want)
    np.testing.assert_array_equal(history.history["momentum"], want[[3, 7, 11]])
    # float64 oracle with the float32 momentum values the callback set.
    w, b = _sgd_momentum_oracle(X, Y, w0, b0, [0.05] * 12, want, 3)
    got_w, got_b = model.get_weights()
    np.testing.assert_allclose(got_w, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_b, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "optimizer, name, message",
    [
        (lambda: keras.optimizers.SGD(momentum=0.9), "momentum", "not a zoo"),
        (lambda: keras_optim_zoo.get("zoo_sgd"), "momentum", "is fixed"),
        (lambda: keras_optim_zoo.get("zoo_adam"), "momentum", "no hyper"),
        (
            lambda: keras_optim_zoo.get("zoo_sgd", momentum=0.5),
            "nesterov",
            "is fixed",
        ),
    ],
)
def test_hyperparameter_scheduler_clear_errors(optimizer, name, message):
    model = _model(optimizer())
    callback = callbacks.HyperparameterScheduler(name, _momentum_schedule())
    with pytest.raises(ValueError, match=message):
        _fit(model, 1, [callback])


def test_schedulers_resume_after_save_and_load(tmp_path):
    def run(model, epochs, **kwargs):
        probe = Probe("learning_rate", "momentum")
        _fit(
            model,
            epochs,
            [
                callbacks.LearningRateScheduler(_cosine()),
                callbacks.HyperparameterScheduler(
                    "momentum", _momentum_schedule()
                ),
                probe,
            ],
            **kwargs,
        )
        return probe.seen

    def new():
        return _model(keras_optim_zoo.get("zoo_nesterov", learning_rate=0.5))

    straight = new()
    seen = run(straight, 3)
    model = new()
    run(model, 2)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    resumed = run(loaded, 3, initial_epoch=2)
    assert resumed == seen[8:]
    for a, b in zip(loaded.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------
# ReduceLROnPlateau.


class Feed(keras.callbacks.Callback):
    """Writes a given sequence into `logs[key]` at each epoch end."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


# A log-likelihood, to maximize: improves at epochs 0, 1, 4; flat in
# between (-2.99995 is not better than -3 by min_delta=1e-4).
NLL = [-5.0, -3.0, -2.99995, -3.5, -2.0, -2.5, -2.6, -2.1, -3.0]


@pytest.mark.parametrize("schedule", [False, True])
def test_plateau_negative_metric_mode_max(schedule):
    lr = _long() if schedule else 0.04
    model = _model(keras_optim_zoo.get("zoo_sgd", learning_rate=lr))
    plateau = callbacks.ReduceLROnPlateau(
        "nll", factor=0.5, patience=2, mode="max", cooldown=1
    )
    history = _fit(
        model,
        len(NLL),
        [
            callbacks.LearningRateLogger(batches=False),
            Feed("nll", NLL),
            plateau,
        ],
    )
    # No improvement at 2, 3 -> reduce after epoch 3; 4 improves; 5, 6 ->
    # reduce after 6; 7 is cooldown; 8 counts 1.
    assert [e for e, _ in plateau.reductions] == [3, 6]
    optimizer = model.optimizer
    if schedule:
        scaled = optimizer._learning_rate
        assert isinstance(scaled, AdjustableScale)
        assert scaled.factor == 0.25
        logged = history.history["learning_rate"]
        steps = 4 * np.arange(1, len(NLL) + 1) - 1
        base = at(_long(), steps).astype("float64")
        factor = np.array([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
        np.testing.assert_allclose(logged, base * factor, rtol=1e-7)
    else:
        assert f32(optimizer.learning_rate) == np.float32(0.01)


@pytest.mark.parametrize("schedule", [False, True])
def test_plateau_min_lr(schedule):
    # At step 0 the schedule is 0.05, as the float: 0.05 -> 0.025 ->
    # 0.0125 -> 0.01 (min_lr) -> no more.
    lr = _long() if schedule else 0.05
    model = _model(keras_optim_zoo.get("zoo_sgd", learning_rate=lr))
    plateau = callbacks.ReduceLROnPlateau(factor=0.5, min_lr=0.01)
    plateau.set_model(model)
    plateau.on_train_begin()
    assert [plateau.reduce() for _ in range(4)] == [True] * 3 + [False]
    assert f32(model.optimizer.learning_rate) == np.float32(0.01)
    if schedule:
        assert model.optimizer._learning_rate.factor == pytest.approx(0.2)


def test_plateau_relative_threshold_with_negative_values():
    plateau = callbacks.ReduceLROnPlateau(
        "x", mode="min", min_delta=0.1, min_delta_mode="rel"
    )
    # best = -10: an improvement must go below -11, not below -9.
    assert not plateau.is_improvement(-10.5, -10.0)
    assert plateau.is_improvement(-11.5, -10.0)
    plateau = callbacks.ReduceLROnPlateau(
        "x", mode="max", min_delta=0.1, min_delta_mode="rel"
    )
    assert not plateau.is_improvement(-9.5, -10.0)
    assert plateau.is_improvement(-8.5, -10.0)
    assert callbacks.ReduceLROnPlateau("val_accuracy").direction() == "max"
    assert callbacks.ReduceLROnPlateau("val_loss").direction() == "min"


def test_plateau_factor_saved_and_restored_and_applied(tmp_path):
    def fed():
        # patience=0, max: reduces after the 2nd of 3 epochs.
        return [
            Feed("score", [1.0, 0.0, 2.0]),
            callbacks.ReduceLROnPlateau(
                "score", factor=0.5, patience=0, mode="max"
            ),
        ]

    # A first fit traces the train step with the plain schedule; the
    # plateau fit must retrace it so that the factor takes effect.
    model = _model(keras_optim_zoo.get("zoo_momentum", learning_rate=_long()))
    _fit(model, 1)
    _fit(model, 3, fed())
    assert model.optimizer._learning_rate.factor == 0.5
    # Reference: the factor assigned by hand, on a schedule wrapped from
    # the start.
    manual = AdjustableScale(_long())
    reference = _model(
        keras_optim_zoo.get("zoo_momentum", learning_rate=manual)
    )
    _fit(reference, 3)
    manual.factor = 0.5
    _fit(reference, 1)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)

    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    scaled = loaded.optimizer._learning_rate
    assert isinstance(scaled, AdjustableScale) and scaled.factor == 0.5
    assert int(loaded.optimizer.iterations) == 16
    assert f32(loaded.optimizer.learning_rate) == f32(
        model.optimizer.learning_rate
    )
    # A loaded model is not wrapped twice; reductions go on from 0.5.
    _fit(loaded, 3, fed())
    assert loaded.optimizer._learning_rate is scaled
    assert scaled.factor == 0.25
    _fit(reference, 2)
    manual.factor = 0.25
    _fit(reference, 1)
    for a, b in zip(loaded.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------
# The range test.


def _state(model):
    return [
        np.array(keras.ops.convert_to_numpy(v))
        for v in model.variables + model.optimizer.variables
    ]


def test_finder_restores_everything_and_stops_on_divergence(tmp_path):
    model = _model(keras_optim_zoo.get("zoo_momentum", learning_rate=0.01))
    _fit(model, 1)  # non-zero momentum slots, iterations = 4
    before = _state(model)
    first_loss = model.evaluate(X[:BATCH], Y[:BATCH], verbose=0)
    path = tmp_path / "range.png"
    result = callbacks.find_learning_rate(
        model,
        X,
        Y,
        batch_size=BATCH,
        min_lr=1e-4,
        max_lr=100.0,
        steps=40,
        plot_path=str(path),
        shuffle=False,
    )
    after = _state(model)
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)
    assert result.diverged and 5 < len(result.losses) < 40
    n = len(result.losses)
    np.testing.assert_allclose(
        result.learning_rates, finder_module.sweep(1e-4, 100.0, 40)[:n]
    )
    # Each point is its batch's loss, not Keras's running mean.
    assert result.losses[0] == pytest.approx(first_loss, rel=1e-6)
    assert result.smoothed[-1] > 4 * result.smoothed.min()
    assert 1e-4 <= result.suggested_lr <= result.min_loss_lr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_finder_on_unbuilt_optimizer_leaves_fresh_state():
    # The slots do not exist before the first step; the finder must create
    # them first, or the sweep's momentum survives into training.
    model = _model(keras_optim_zoo.get("zoo_momentum", learning_rate=0.01))
    model.build((None, 4))
    weights = [w.copy() for w in model.get_weights()]
    assert not model.optimizer.built
    callbacks.find_learning_rate(
        model, X, Y, batch_size=BATCH, min_lr=1e-4, max_lr=100.0, steps=20
    )
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    hypers = {id(v) for v in model.optimizer.hyper_variables()}
    assert model.optimizer.get_hyperparameter("momentum") == 0.9
    for variable in model.optimizer.variables:
        value = keras.ops.convert_to_numpy(variable)
        if variable.name == "learning_rate" or id(variable) in hypers:
            continue
        np.testing.assert_array_equal(value, np.zeros_like(value))


def test_finder_needs_a_float_learning_rate():
    model = _model(keras_optim_zoo.get("zoo_sgd", learning_rate=_cosine()))
    model.build((None, 4))
    before = _state(model)
    with pytest.raises(TypeError, match="float learning rate"):
        callbacks.find_learning_rate(model, X, Y, steps=5)
    for a, b in zip(_state(model), before):
        np.testing.assert_array_equal(a, b)


def test_finder_linear_sweep_runs_all_steps():
    model = _model(keras_optim_zoo.get("zoo_sgd", learning_rate=0.01))
    result = callbacks.find_learning_rate(
        model,
        X,
        Y,
        batch_size=BATCH,
        min_lr=1e-3,
        max_lr=0.02,
        steps=6,
        mode="linear",
    )
    assert not result.diverged
    np.testing.assert_allclose(
        result.learning_rates, np.linspace(1e-3, 0.02, 6), rtol=1e-12
    )
    assert int(model.optimizer.iterations) == 0


def test_smoothing_and_suggestion():
    np.testing.assert_allclose(finder_module.smooth([2.0, 2.0, 2.0]), 2.0)
    # Bias-corrected: the first value is the first loss.
    assert finder_module.smooth([3.0, 1.0], 0.9)[0] == pytest.approx(3.0)
    assert finder_module.smooth([3.0, 1.0], 0.9)[1] == pytest.approx(
        (0.9 * 0.1 * 3 + 0.1) / (1 - 0.81)
    )
    lrs = finder_module.sweep(1e-5, 1.0, 51)
    x = np.log10(lrs)
    curve = 1 - np.tanh(2 * (x + 3)) + np.maximum(x + 1, 0) ** 2
    ema = finder_module.smooth(curve)
    result = callbacks.RangeTestResult(lrs, curve, ema, False)
    # Steepest descent of 1 - tanh(2 (x + 3)) is at x = -3: the centred
    # smoothing keeps it there; the moving average would put it 0.4 of a
    # decade later (at x = -2.6), on this noise-free curve already.
    assert result.steepest_lr == pytest.approx(1e-3)
    assert result.min_loss_lr == pytest.approx(lrs[np.argmin(result.centered)])
    # (The minimum, a kink, moves 0.2 of a decade towards the gentle side.)
    assert abs(np.argmin(result.centered) - np.argmin(curve)) <= 2
    x_ema = np.log10(lrs[5:])[np.argmin(np.gradient(ema[5:], x[5:]))]
    assert x_ema > -2.7
    # A centred average of a constant is the constant.
    np.testing.assert_allclose(finder_module.centered_smooth([2.0] * 5, 1), 2.0)
    rising = np.array([1.0, 2.0, 3.0])
    short = callbacks.RangeTestResult(lrs[:3], rising, rising, True)
    assert short.steepest_lr is None
    assert short.suggested_lr == pytest.approx(short.min_loss_lr / 10)


# ----------------------------------------------------------------------
# The schedule plot tool.


def test_plot_tool_has_an_example_for_every_schedule():
    spec = importlib.util.spec_from_file_location(
        "plot_schedules", os.path.join(ROOT, "tools", "plot_schedules.py")
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert set(tool.EXAMPLES) == set(schedules.list_schedules())
    for name in tool.EXAMPLES:
        tool.build(name)  # valid arguments
