"""`wrappers.ParameterGroups` and `layerwise_decay`: which variables go
where, the rates and hyper-parameters the callbacks set on every group,
the evaluation point, configs and errors. (The torch reference
trajectories, `model.fit` and the fresh-process resume are in
`test_wrappers.py`, with the other wrappers.)"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo
from keras_optim_zoo import callbacks, schedules, wrappers
from keras_optim_zoo.wrappers import Group, ParameterGroups
from tests import resume


def _model():
    """Embedding-free three-block model with stable variable paths."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5,))
    x = keras.layers.Dense(6, activation="tanh", name="stem")(inputs)
    x = keras.layers.Dense(6, activation="tanh", name="block_0")(x)
    x = keras.layers.LayerNormalization(name="norm")(x)
    x = keras.layers.Dense(6, activation="tanh", name="block_1")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    return keras.Model(inputs, outputs)


def _fit(optimizer, epochs=2, callbacks_=(), model=None, **kwargs):
    x, y = resume.data()
    model = model or _model()
    model.compile(optimizer=optimizer, loss="mse", **kwargs)
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks_),
    )
    return model, history


def _rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def test_variables_go_to_the_first_group_that_selects_them():
    model = _model()
    opt = ParameterGroups(
        "zoo_adamw",
        [
            Group(["block_*/*"], name="blocks"),  # a glob: the whole path
            {"patterns": ["bias"], "weight_decay": 0.0},  # a substring
            Group(predicate=lambda v: "norm" in v.path),
        ],
    )
    opt.build(model.trainable_variables)
    assert opt.assignments() == {
        "default": ["stem/kernel", "head/kernel"],
        "blocks": [
            "block_0/kernel",
            "block_0/bias",
            "block_1/kernel",
            "block_1/bias",
        ],
        "group_2": ["stem/bias", "head/bias"],
        "group_3": ["norm/gamma", "norm/beta"],
    }
    assert opt.group_of(model.get_layer("head").kernel) == "default"


def test_each_group_trains_as_its_own_optimizer_would():
    # A group's optimizer on its variables alone computes what the
    # wrapper computes for them: rates times the multiplier, its own
    # weight decay, its own algorithm.
    x, y = resume.data()
    model = _model()
    opt = ParameterGroups(
        keras_optim_zoo.get("zoo_adamw", weight_decay=0.1),
        [
            Group(["block_0/*"], learning_rate_multiplier=0.25),
            Group(["*/bias", "norm/*"], weight_decay=0.0),
            Group(
                ["head/*"], optimizer=keras.optimizers.SGD(0.05, momentum=0.9)
            ),
        ],
        learning_rate=0.01,
    )
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert [_rate(o) for o in opt.group_optimizers.values()] == pytest.approx(
        [0.01, 0.0025, 0.01, 0.05]
    )
    # The same steps with one optimizer per group, by hand.
    by_hand = _model()
    variables = by_hand.trainable_variables
    group = {
        "stem/kernel": 0,
        "block_1/kernel": 0,
        "block_0/kernel": 1,
        "block_0/bias": 1,
        "stem/bias": 2,
        "norm/gamma": 2,
        "norm/beta": 2,
        "block_1/bias": 2,
        "head/kernel": 3,
        "head/bias": 2,  # the first group that selects it
    }
    optimizers = [
        keras_optim_zoo.get("zoo_adamw", learning_rate=0.01, weight_decay=0.1),
        keras_optim_zoo.get(
            "zoo_adamw", learning_rate=0.0025, weight_decay=0.1
        ),
        keras_optim_zoo.get("zoo_adamw", learning_rate=0.01, weight_decay=0.0),
        keras.optimizers.SGD(0.05, momentum=0.9),
    ]
    loss = keras.losses.MeanSquaredError()
    for _ in range(2):
        for i in range(0, len(x), 8):
            with tf.GradientTape() as tape:
                value = loss(y[i : i + 8], by_hand(x[i : i + 8]))
            grads = tape.gradient(value, variables)
            for k, optimizer in enumerate(optimizers):
                pairs = [
                    (g, v)
                    for g, v in zip(grads, variables)
                    if group[v.path] == k
                ]
                optimizer.apply_gradients(pairs)
    for a, b in zip(model.get_weights(), by_hand.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-6)
    assert int(opt.iterations) == 12


def test_learning_rate_reads_and_callbacks_keep_the_ratios():
    opt = ParameterGroups(
        "zoo_momentum",
        [
            Group(["block_*/*"], learning_rate_multiplier=0.1, name="blocks"),
            Group(
                ["head/*"], optimizer="zoo_adam", learning_rate_multiplier=0.5
            ),
        ],
        learning_rate=0.02,
    )
    assert _rate(opt) == pytest.approx(0.02)  # MultiOptimizer raises here
    schedule = lambda step, lr: 0.02 / (1 + step)  # noqa: E731
    _, history = _fit(
        opt,
        callbacks_=[
            callbacks.LearningRateScheduler(schedule),
            callbacks.LearningRateLogger(batches=False),
        ],
    )
    logged = history.history
    last = [0.02 / 6, 0.02 / 12]
    assert logged["learning_rate"] == pytest.approx(last)
    assert logged["learning_rate/default"] == pytest.approx(last)
    assert logged["learning_rate/blocks"] == pytest.approx(
        [0.1 * v for v in last]
    )
    assert logged["learning_rate/group_2"] == pytest.approx(
        [0.5 * v for v in last]
    )
    assert "momentum/default" in logged and "beta_1/group_2" in logged
    # ReduceLROnPlateau: a float rate, then a schedule, both scaled in
    # every group.
    for rate in (0.02, schedules.get("zoo_constant", value=0.02)):
        opt = ParameterGroups(
            "zoo_momentum",
            [Group(["head/*"], learning_rate_multiplier=0.5)],
            learning_rate=rate,
        )
        plateau = callbacks.ReduceLROnPlateau(
            monitor="loss", factor=0.5, patience=0, min_delta=10.0
        )
        _, history = _fit(
            opt,
            epochs=3,
            callbacks_=[plateau, callbacks.LearningRateLogger(batches=False)],
        )
        logged = history.history
        # No reduction after the first epoch (nothing to compare with),
        # then one at each; the logger, listed after it, sees each.
        expected = [0.02 * 0.5**k for k in (0, 1, 2)]
        assert logged["learning_rate"] == pytest.approx(expected), rate
        assert logged["learning_rate/group_1"] == pytest.approx(
            [0.5 * v for v in expected]
        ), rate


def test_hyperparameter_scheduler_sets_every_group_keeping_ratios():
    opt = ParameterGroups(
        keras_optim_zoo.get("zoo_adamw", weight_decay=0.02, beta_1=0.9),
        [
            Group(["*/bias", "norm/*"], weight_decay=0.0),
            Group(["head/*"], weight_decay=0.01),
            Group(["block_0/*"], optimizer="zoo_momentum", name="sgd"),
        ],
    )
    adamw = ["default", "group_1", "group_2"]
    assert opt.changeable_hyperparameters() == {
        "weight_decay": adamw,
        "beta_1": adamw,
        "beta_2": adamw,
        "epsilon": adamw,
        "momentum": ["sgd"],
    }
    _fit(
        opt,
        epochs=1,
        callbacks_=[
            callbacks.HyperparameterScheduler(
                "weight_decay", lambda step, value: 0.04
            ),
            callbacks.HyperparameterScheduler(
                "momentum", lambda step, value: 0.5
            ),
        ],
    )
    wd = {
        name: float(keras.ops.convert_to_numpy(o.weight_decay))
        for name, o in opt.group_optimizers.items()
        if name != "sgd"
    }
    assert wd == pytest.approx(
        {"default": 0.04, "group_1": 0.0, "group_2": 0.02}
    )
    momentum = opt.group_optimizers["sgd"].momentum
    assert float(keras.ops.convert_to_numpy(momentum)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="`beta_3`"):
        callbacks.scheduler.check_changeable(opt, "beta_3")


def test_evaluation_point_is_each_groups():
    # The head trains with schedule-free AdamW (its point: the average);
    # the rest with Adam (no point: its current weights).
    opt = ParameterGroups(
        "zoo_adam",
        [Group(["head/*"], optimizer="zoo_schedule_free_adamw")],
    )
    model, _ = _fit(opt, epochs=1)
    assert opt.has_evaluation_point
    training = [v.numpy().copy() for v in model.trainable_variables]
    head = opt.group_optimizers["group_1"]
    head_vars = [v for v in model.trainable_variables if "head" in v.path]
    average = [np.asarray(v) for v in head.evaluation_values(head_vars)]
    opt.swap_evaluation_weights()
    for var, before in zip(model.trainable_variables, training):
        if "head" in var.path:
            np.testing.assert_array_equal(var.numpy(), average.pop(0))
        else:
            np.testing.assert_array_equal(var.numpy(), before)
    opt.restore_training_weights()
    for var, before in zip(model.trainable_variables, training):
        np.testing.assert_array_equal(var.numpy(), before)
    assert not ParameterGroups(
        "zoo_adam", [Group(["head"])]
    ).has_evaluation_point


@keras.saving.register_keras_serializable(package="tests")
def _is_norm(variable):
    return "norm" in variable.path


def test_config_round_trips_with_predicates_schedules_and_nested_wrappers():
    opt = ParameterGroups(
        wrappers.Lookahead("zoo_radam", sync_period=3),
        [
            Group(predicate=_is_norm, weight_decay=0.0, name="norms"),
            Group(
                ["head/*"],
                optimizer=keras.optimizers.SGD(0.1),
                learning_rate_multiplier=10.0,  # the base is a schedule
                name="head",
            ),
        ],
        learning_rate=schedules.get(
            "zoo_cosine", initial_learning_rate=0.01, decay_steps=100
        ),
    )
    serialized = json.loads(
        json.dumps(keras.saving.serialize_keras_object(opt))
    )
    copy = keras.optimizers.get(serialized)
    assert type(copy) is ParameterGroups
    assert copy.get_config() == opt.get_config()
    assert type(copy.group_optimizers["default"]) is wrappers.Lookahead
    assert copy.groups[0].predicate is _is_norm
    rate = copy.group_optimizers["head"].learning_rate
    assert float(rate) == pytest.approx(0.1)  # 10 times cosine(0)
    # A lambda predicate works, but cannot be saved: a clear error.
    unsaved = ParameterGroups("zoo_adam", [Group(predicate=lambda v: True)])
    with pytest.raises(ValueError, match="register_keras_serializable"):
        unsaved.get_config()
    # The comparison command takes a JSON config of it.
    from keras_optim_zoo import compare

    text = json.dumps(
        {
            "class_name": "zoo_parameter_groups",
            "config": {
                "optimizer": "zoo_adamw",
                "groups": [{"patterns": ["*/bias"], "weight_decay": 0.0}],
                "learning_rate": 0.003,
            },
        }
    )
    label, identifier, overrides = compare.parse_config(text)
    built = keras_optim_zoo.get(identifier, **overrides)
    assert type(built) is ParameterGroups and _rate(built) == pytest.approx(
        0.003
    )


def test_loss_scale_optimizer_goes_around_it():
    def make():
        return ParameterGroups(
            "zoo_adam", [Group(["head/*"], learning_rate_multiplier=0.5)]
        )

    plain, _ = _fit(make())
    scaled, _ = _fit(keras.optimizers.LossScaleOptimizer(make()))
    for a, b in zip(plain.get_weights(), scaled.get_weights()):
        np.testing.assert_array_equal(a, b)  # scaling by 2^k is exact


def test_layerwise_decay_multiplies_down_from_the_head():
    model = _model()
    blocks = [
        model.get_layer(n) for n in ("stem", "block_0", "norm", "block_1")
    ]
    groups = wrappers.layerwise_decay(blocks, 0.5)
    assert [g.name for g in groups] == ["stem", "block_0", "norm", "block_1"]
    assert [g.learning_rate_multiplier for g in groups] == [
        0.0625,
        0.125,
        0.25,
        0.5,
    ]
    assert groups[1].patterns == ["block_0/*"]
    opt = ParameterGroups("zoo_adamw", groups, learning_rate=0.04)
    _, history = _fit(
        opt,
        epochs=1,
        model=model,
        callbacks_=[callbacks.LearningRateLogger(batches=False)],
    )
    logged = {k: v[-1] for k, v in history.history.items() if "rate/" in k}
    assert logged == pytest.approx(
        {
            "learning_rate/default": 0.04,  # the head
            "learning_rate/block_1": 0.02,
            "learning_rate/norm": 0.01,
            "learning_rate/block_0": 0.005,
            "learning_rate/stem": 0.0025,
        }
    )
    assert opt.assignments()["default"] == ["head/kernel", "head/bias"]
    # Patterns as blocks; a nested model's layer by its path.
    groups = wrappers.layerwise_decay(["embed", ["a/*", "b/*"]], 0.8)
    assert [g.patterns for g in groups] == [["embed"], ["a/*", "b/*"]]
    assert [g.learning_rate_multiplier for g in groups] == pytest.approx(
        [0.64, 0.8]
    )


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Group(), "exactly one"),
        (lambda: Group(["a"], predicate=lambda v: True), "exactly one"),
        (lambda: Group("bias"), "`patterns`"),
        (lambda: Group(["dense.*"]), "regex"),
        (lambda: Group([]), "at least one"),
        (lambda: Group(["a"], learning_rate_multiplier=-1.0), "multiplier"),
        (lambda: Group(["a"], weight_decay="x"), "`weight_decay`"),
        (lambda: Group(["a"], name="default"), "`name`"),
        (lambda: Group(["a"], name="a b"), "`name`"),
        (lambda: ParameterGroups("zoo_adam", [{"pattern": ["a"]}]), "patterns"),
        (lambda: ParameterGroups("zoo_adam", {"patterns": ["a"]}), "`groups`"),
        (
            lambda: ParameterGroups(
                "zoo_adam", [Group(["a"], name="x"), Group(["b"], name="x")]
            ),
            "unique",
        ),
        (lambda: ParameterGroups("zoo_nope"), "`optimizer`"),
        (
            lambda: ParameterGroups(
                keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())
            ),
            "LossScaleOptimizer",
        ),
        (
            lambda: ParameterGroups(
                "zoo_adam",
                [
                    Group(
                        ["a"],
                        optimizer=keras.optimizers.SGD(
                            schedules.get("zoo_constant", value=0.1)
                        ),
                    )
                ],
            ),
            "learning_rate_multiplier",
        ),
        (
            lambda: ParameterGroups("zoo_adam", learning_rate=-0.1),
            "`learning_rate`",
        ),
        (lambda: wrappers.layerwise_decay(["a"], 1.5), "`decay`"),
        (lambda: wrappers.layerwise_decay([], 0.5), "`blocks`"),
    ],
)
def test_bad_arguments_are_rejected_naming_them(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_errors_at_build_name_the_group_and_the_paths():
    built = keras.optimizers.Adam()
    built.build(_model().trainable_variables)
    with pytest.raises(ValueError, match="not built yet"):
        ParameterGroups(built)
    opt = ParameterGroups("zoo_adam", [Group(["encoder/*"], name="encoder")])
    with pytest.raises(ValueError, match="'encoder'.*head/kernel"):
        opt.build(_model().trainable_variables)
    # Keras's MultiOptimizer: our callbacks point to ParameterGroups.
    multi = keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(keras.optimizers.Adam())
    )
    model = _model()
    model.compile(optimizer=multi, loss="mse")
    logger = callbacks.LearningRateLogger()
    logger.set_model(model)
    with pytest.raises(ValueError, match="ParameterGroups"):
        logger.values()


def test_keras_own_callbacks_keep_the_ratios_too():
    # Keras's per-epoch LearningRateScheduler and ReduceLROnPlateau read
    # and set `optimizer.learning_rate`: every group follows.
    opt = ParameterGroups(
        "adam", [Group(["head/*"], learning_rate_multiplier=0.25)]
    )
    model, _ = _fit(
        opt,
        epochs=3,
        callbacks_=[
            keras.callbacks.LearningRateScheduler(lambda e: 0.01 * (e + 1)),
        ],
    )
    rates = [_rate(o) for o in opt.group_optimizers.values()]
    assert rates == pytest.approx([0.03, 0.0075])
    _fit(
        opt,
        epochs=2,
        model=model,
        callbacks_=[
            keras.callbacks.ReduceLROnPlateau(
                monitor="loss", factor=0.5, patience=0, min_delta=10.0
            )
        ],
    )
    rates = [_rate(o) for o in opt.group_optimizers.values()]
    assert rates == pytest.approx([0.015, 0.00375])


def test_per_group_values_reach_csv_and_tensorboard(tmp_path):
    import glob

    opt = ParameterGroups(
        "zoo_momentum",
        [Group(["head/*"], learning_rate_multiplier=0.5, name="head")],
        learning_rate=0.02,
    )
    csv = tmp_path / "log.csv"
    _fit(
        opt,
        callbacks_=[
            callbacks.LearningRateLogger(batches=False),  # before the others
            keras.callbacks.CSVLogger(str(csv)),
            keras.callbacks.TensorBoard(str(tmp_path / "tb")),
        ],
    )
    header = csv.read_text().splitlines()[0].split(",")
    assert {"learning_rate/default", "learning_rate/head"} <= set(header)
    tags = set()
    for path in glob.glob(str(tmp_path / "tb" / "train" / "*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    assert {
        "epoch_learning_rate/default",
        "epoch_learning_rate/head",
        "epoch_momentum/head",
    } <= tags
