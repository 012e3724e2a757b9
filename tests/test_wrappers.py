"""The wrappers (`keras_optim_zoo.wrappers`) around zoo optimizers and Keras
built-ins: reference numbers, `model.fit` with and without `jit_compile`,
save -> load in a new process -> resume, skipping, evaluation, errors."""

import json

import keras
import numpy as np
import pytest

import keras_optim_zoo
from keras_optim_zoo import callbacks, wrappers
from tests import resume

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf
from tests.reference import trajectory_io
from tests.test_reference_trajectories import difference, replay

# The wrapper reference files and, for each, the Keras built-in that
# computes the same inner algorithm as the zoo optimizer in its cases.
REFERENCES = [
    "zoo_lookahead",
    "zoo_adaptive_gradient_clipping",
    "zoo_gradient_centralization",
    "zoo_swa",
    "zoo_parameter_groups",
]
KERAS_TWINS = {"zoo_sgd": "sgd", "zoo_momentum": "sgd", "zoo_adamw": "adamw"}
MODES = {
    "tensorflow": ("uncompiled", "xla", "jit_function"),
    "jax": ("eager", "jit"),  # jit: stateless_apply under jax.jit
    "torch": ("eager",),
}[keras.backend.backend()]


def _inner(spec, learning_rate, mode, keras_twin=False):
    name, kwargs = spec["name"], dict(spec["kwargs"])
    if name in KERAS_TWINS and keras_twin:
        name = KERAS_TWINS[name]
    if name.startswith("zoo_"):
        return keras_optim_zoo.get(
            name,
            learning_rate=learning_rate,
            jit_compile=mode != "uncompiled",
            **kwargs,
        )
    cls = type(keras.optimizers.get(name))
    return cls(learning_rate=learning_rate, **kwargs)


def _wrapped(name, case, mode, keras_twin=False):
    kwargs = dict(case["zoo_kwargs"])
    inner = _inner(
        kwargs.pop("optimizer"), case["learning_rate"], mode, keras_twin
    )
    if "groups" in kwargs:  # zoo_parameter_groups: each group's optimizer
        kwargs["groups"] = [
            {
                **group,
                "optimizer": _inner(
                    group["optimizer"],
                    group["optimizer"]["learning_rate"],
                    mode,
                    keras_twin,
                ),
            }
            if "optimizer" in group
            else group
            for group in kwargs["groups"]
        ]
    if "schedule" in kwargs:  # the wrapper's learning rate
        kwargs["learning_rate"] = keras_optim_zoo.schedules.get(
            kwargs.pop("schedule")
        )
    return wrappers.get(name, optimizer=inner, **kwargs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", REFERENCES)
def test_matches_stored_reference(name, mode):
    data = trajectory_io.load(name)
    assert data["optimizer"] == name and len(data["cases"]) >= 2
    for case in data["cases"]:
        assert case["steps"] >= 30
        twins = [False]
        if case["zoo_kwargs"]["optimizer"]["name"] in KERAS_TWINS:
            twins.append(True)  # the same inner algorithm, Keras's class
        for keras_twin in twins:
            opt = _wrapped(name, case, mode, keras_twin)
            got = replay(name, case, mode, opt, mode == "jit_function")
            worst = difference(got, case)
            assert worst <= data["tolerance"], (case["name"], keras_twin)


def test_every_wrapper_is_tested_here():
    checked = set(REFERENCES) | {"zoo_skip_non_finite"}
    assert set(wrappers.list_wrappers()) == checked


# ----------------------------------------------------------------------
# model.fit, around a zoo optimizer and a Keras built-in.


def _all_wrappers(inner):
    return {
        "zoo_lookahead": wrappers.Lookahead(inner(), sync_period=3),
        "zoo_gradient_centralization": wrappers.GradientCentralization(inner()),
        "zoo_adaptive_gradient_clipping": wrappers.AdaptiveGradientClipping(
            inner(), clipping=0.05
        ),
        "zoo_skip_non_finite": wrappers.SkipNonFinite(inner()),
        "zoo_swa": wrappers.SWA(
            inner(),
            start_averaging=3,
            average_period=2,
            swa_learning_rate=0.004,
            anneal_steps=3,
        ),
        "zoo_parameter_groups": wrappers.ParameterGroups(
            inner(),
            [{"patterns": ["*/bias"], "learning_rate_multiplier": 0.5}],
        ),
        "nested": wrappers.Lookahead(
            wrappers.SkipNonFinite(wrappers.GradientCentralization(inner())),
            sync_period=2,
        ),
    }


INNERS = {
    "zoo": lambda: keras_optim_zoo.get("zoo_adam", learning_rate=0.01),
    "keras": lambda: keras.optimizers.Adam(learning_rate=0.01),
}


def _manual(optimizer, x, y):
    """The same epochs as `fit(batch_size=8, shuffle=False)`, by hand."""
    model = resume.model()
    optimizer.build(model.trainable_variables)
    loss = keras.losses.MeanSquaredError()
    for _ in range(2):
        for i in range(0, len(x), 8):
            with tf.GradientTape() as tape:
                value = loss(y[i : i + 8], model(x[i : i + 8]))
            grads = tape.gradient(value, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return model.get_weights()


@pytest.mark.parametrize("inner", sorted(INNERS))
def test_fit_with_and_without_jit_compile_equals_the_manual_loop(inner):
    x, y = resume.data()
    expected = {
        k: _manual(o, x, y) for k, o in _all_wrappers(INNERS[inner]).items()
    }
    for jit in (False, True):
        for key, optimizer in _all_wrappers(INNERS[inner]).items():
            model = resume.model()
            model.compile(optimizer=optimizer, loss="mse", jit_compile=jit)
            model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
            assert int(optimizer.iterations) == 12
            for a, b in zip(model.get_weights(), expected[key]):
                # XLA may fuse the step's products differently.
                np.testing.assert_allclose(a, b, rtol=0, atol=2e-6)


@pytest.mark.slow
@pytest.mark.subprocess
def test_resume_in_new_process_matches_uninterrupted(tmp_path):
    x, y = resume.data()
    expected, models, points = {}, {}, {}
    for inner in sorted(INNERS):
        for key, optimizer in _all_wrappers(INNERS[inner]).items():
            model = resume.model()
            model.compile(optimizer=optimizer, loss="mse")
            path = str(tmp_path / f"{key}-{inner}.keras")
            expected[path] = resume.fit_save_fit(model, x, y, path)
            models[path] = type(optimizer).registered_name
            if type(optimizer).has_own_evaluation_point:
                points[path] = [
                    np.asarray(v) for v in optimizer.evaluation_values()
                ]
    # The weight-decay exclusion is saved in the config, unlike Keras's
    # exclude_from_weight_decay() call.
    model = resume.model()
    model.compile(
        optimizer=keras_optim_zoo.get(
            "zoo_adamw",
            learning_rate=0.01,
            weight_decay=0.5,
            no_weight_decay=[model.layers[-1].name],
            no_weight_decay_1d=True,
        ),
        loss="mse",
    )
    path = str(tmp_path / "exclusion.keras")
    expected[path] = resume.fit_save_fit(model, x, y, path)
    models[path] = "zoo_adamw"
    resume.resume_in_new_process(str(tmp_path), x, y, models)
    for path, weights in expected.items():
        got, iterations = resume.resumed_weights(path, len(weights))
        assert iterations == 18, path
        for a, b in zip(got, weights):
            np.testing.assert_array_equal(a, b, err_msg=path)
        # The evaluation point (SWA's average and its snapshot count,
        # Lookahead's slow weights) continues exactly too.
        point = resume.resumed_evaluation_point(path)
        assert len(point) == len(points.get(path, [])), path
        for a, b in zip(point, points.get(path, [])):
            np.testing.assert_array_equal(a, b, err_msg=path)
    assert len(points) == 6  # Lookahead, SWA, nested; zoo and Keras inner


# ----------------------------------------------------------------------
# Configs, names, errors.


def test_config_nests_the_inner_optimizer_and_round_trips():
    opt = wrappers.Lookahead(
        wrappers.SkipNonFinite("zoo_radam", max_skipped_steps=3),
        sync_period=4,
        slow_step_size=0.25,
    )
    serialized = json.loads(
        json.dumps(keras.saving.serialize_keras_object(opt))
    )
    assert serialized["config"]["optimizer"]["config"]["max_skipped_steps"] == 3
    for copy in (
        keras.saving.deserialize_keras_object(serialized),
        keras.optimizers.get(serialized),
        wrappers.get(serialized),
    ):
        assert type(copy) is wrappers.Lookahead
        assert copy.get_config() == opt.get_config()
        assert type(copy.inner_optimizer.inner_optimizer).__name__ == "RAdam"
    # Keras built-ins nest too; the learning rate is the inner one's.
    opt = wrappers.GradientCentralization(keras.optimizers.SGD(0.3))
    copy = wrappers.get(keras.saving.serialize_keras_object(opt))
    assert float(copy.learning_rate) == pytest.approx(0.3)
    copy.learning_rate = 0.1
    assert float(copy.inner_optimizer.learning_rate) == pytest.approx(0.1)


def test_wrappers_are_not_listed_as_optimizers():
    assert not set(wrappers.list_wrappers()) & set(
        keras_optim_zoo.list_optimizers()
    )
    assert "zoo_ranger" in keras_optim_zoo.list_optimizers()


def test_bad_arguments_are_rejected_naming_them():
    cases = [
        (dict(optimizer=5), "`optimizer`"),
        (dict(optimizer="zoo_adm"), "`optimizer`"),
        (dict(optimizer="zoo_adam", sync_period=0), "`sync_period`"),
        (dict(optimizer="zoo_adam", sync_period=2.5), "`sync_period`"),
        (dict(optimizer="zoo_adam", slow_step_size=1.5), "`slow_step_size`"),
        (dict(optimizer="zoo_adam", k=3), "Accepted arguments"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            wrappers.Lookahead(**kwargs)
    with pytest.raises(ValueError, match="`clipping`"):
        wrappers.AdaptiveGradientClipping("zoo_sgd", clipping=0.0)
    with pytest.raises(ValueError, match="`exclude`"):
        wrappers.AdaptiveGradientClipping("zoo_sgd", exclude=["dense["])
    with pytest.raises(ValueError, match="`max_skipped_steps`"):
        wrappers.SkipNonFinite("zoo_sgd", max_skipped_steps=-1)
    with pytest.raises(ValueError, match="`no_weight_decay`"):
        keras_optim_zoo.get("zoo_adamw", no_weight_decay=[""])


# ----------------------------------------------------------------------
# SkipNonFinite.


def _quadratic():
    var = keras.Variable(np.linspace(-1, 1, 6).astype("float32"))
    return var, lambda: tf.reduce_sum(var.value**2)


@pytest.mark.parametrize("inner", sorted(INNERS))
def test_a_non_finite_step_changes_nothing_and_is_counted(inner):
    var, _ = _quadratic()
    opt = wrappers.SkipNonFinite(INNERS[inner](), max_skipped_steps=1)
    finite = tf.constant(np.full(6, 0.5, "float32"))
    opt.apply_gradients([(finite, var)])
    before = [v.numpy().copy() for v in opt.variables + [var]]
    grad = np.full(6, 0.5, "float32")
    grad[2] = np.nan
    opt.apply_gradients([(tf.constant(grad), var)])  # within the limit
    grad[2] = np.inf
    with pytest.raises(RuntimeError, match="max_skipped_steps=1"):
        opt.apply_gradients([(tf.constant(grad), var)])
    after = [v.numpy() for v in opt.variables + [var]]
    assert int(opt.skipped_steps) == 2 and int(opt.iterations) == 1
    for a, b in zip(before[:-1], after[:-1]):
        if a.shape == ():  # the counter itself
            continue
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(before[-1], after[-1])


def test_skipped_steps_in_the_logs_and_the_stop_in_fit():
    x, y = resume.data()
    y = y.copy()
    y[8] = np.nan  # the second batch's loss and gradients are NaN
    model = resume.model()
    opt = wrappers.SkipNonFinite("zoo_adam", max_skipped_steps=2)
    model.compile(optimizer=opt, loss="mse", jit_compile=True)
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[callbacks.SkippedStepsMonitor()],
    )
    assert history.history["skipped_steps"] == [1, 2]
    assert int(opt.iterations) == 10
    assert all(np.isfinite(w).all() for w in model.get_weights())
    with pytest.raises(RuntimeError, match="skipped 3 steps"):
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[callbacks.SkippedStepsMonitor()],
        )
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_loss_scale_optimizer_goes_outside():
    inside = keras.optimizers.LossScaleOptimizer(
        wrappers.SkipNonFinite("zoo_adam")
    )
    var, _ = _quadratic()
    # An overflow: the loss scale halves and SkipNonFinite never sees it.
    inside.apply_gradients([(tf.constant(np.full(6, np.inf, "float32")), var)])
    assert float(inside.dynamic_scale) == 2.0**14
    assert int(inside.inner_optimizer.skipped_steps) == 0
    with pytest.raises(ValueError, match="LossScaleOptimizer\\(SkipNonFinite"):
        wrappers.SkipNonFinite(
            keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())
        )


# ----------------------------------------------------------------------
# Evaluation at Lookahead's slow weights; callbacks reach the inner rate.


def test_swap_evaluation_weights_uses_the_slow_weights():
    x, y = resume.data()
    model = resume.model()
    opt = wrappers.Lookahead(keras.optimizers.Adam(0.01), sync_period=5)
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    training = [v.numpy().copy() for v in model.trainable_variables]
    slow = [np.asarray(v) for v in opt.evaluation_values()]
    assert not all(np.array_equal(a, b) for a, b in zip(training, slow))
    swap = callbacks.SwapEvaluationWeights()
    swap.set_model(model)
    swap.on_test_begin()
    for a, b in zip(model.trainable_variables, slow):
        np.testing.assert_array_equal(a.numpy(), b)
    swap.on_test_end()
    for a, b in zip(model.trainable_variables, training):
        np.testing.assert_array_equal(a.numpy(), b)
    with pytest.raises(ValueError, match="no evaluation point"):
        other = resume.model()
        other.compile(optimizer=wrappers.GradientCentralization("adam"))
        bad = callbacks.SwapEvaluationWeights()
        bad.set_model(other)
        bad.on_train_begin()


def test_learning_rate_callbacks_act_on_the_inner_optimizer():
    x, y = resume.data()
    model = resume.model()
    inner = keras_optim_zoo.get("zoo_adam", learning_rate=0.01)
    model.compile(optimizer=wrappers.Lookahead(inner), loss="mse")
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[
            callbacks.LearningRateScheduler(lambda step, lr: 0.01 / (1 + step)),
            callbacks.LearningRateLogger(batches=False),
        ],
    )
    assert history.history["learning_rate"] == pytest.approx(
        [0.01 / 6, 0.01 / 12]
    )


# ----------------------------------------------------------------------
# The serializable weight-decay exclusion on every zoo optimizer.


def test_weight_decay_exclusion_equals_keras_exclude_call():
    x, y = resume.data()
    results = []
    for use_keras_call in (False, True):
        model = resume.model()
        last = model.layers[-1].name  # Keras numbers layer names globally
        if use_keras_call:
            opt = keras_optim_zoo.get(
                "zoo_adamw", learning_rate=0.01, weight_decay=0.5
            )
            opt.exclude_from_weight_decay(
                var_list=[
                    v
                    for v in model.trainable_variables
                    if len(v.shape) == 1 or last in v.path
                ]
            )
        else:
            opt = keras_optim_zoo.get(
                "zoo_adamw",
                learning_rate=0.01,
                weight_decay=0.5,
                no_weight_decay=[f"*{last}/*"],
                no_weight_decay_1d=True,
            )
        model.compile(optimizer=opt, loss="mse")
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert keras_optim_zoo.get(
        "zoo_adamw", no_weight_decay=("bias",)
    ).get_config()["no_weight_decay"] == ["bias"]


# ----------------------------------------------------------------------
# The comparison tool takes wrapped configurations.


def test_compare_accepts_wrapped_configurations():
    from keras_optim_zoo import compare

    texts = [
        "zoo_lookahead:optimizer=zoo_radam,sync_period=5,learning_rate=0.01",
        json.dumps(
            {
                "class_name": "zoo_skip_non_finite",
                "config": {
                    "optimizer": {
                        "class_name": "zoo_gradient_centralization",
                        "config": {"optimizer": "adam"},
                    }
                },
            }
        ),
    ]
    built = []
    for text in texts:
        label, identifier, overrides = compare.parse_config(text)
        built.append(keras_optim_zoo.get(identifier, **overrides))
    assert type(built[0]) is wrappers.Lookahead
    assert float(built[0].learning_rate) == pytest.approx(0.01)
    assert type(built[1].inner_optimizer.inner_optimizer).__name__ == "Adam"
    with pytest.raises(ValueError, match="`sync_period`"):
        compare.parse_config("zoo_lookahead:optimizer=zoo_sgd,sync_period=0")
    x, y = resume.data()
    labels = (y[:, 0] > 0).astype("int64")
    run = compare.runner.train_run(
        "zoo_lookahead",
        {"optimizer": "zoo_adam", "learning_rate": 0.01},
        data=((x, labels), (x, labels)),
        model_source="mlp",
        seed=0,
        epochs=2,
        batch_size=16,
    )
    assert run["epochs"] == 2 and not run["diverged"]


# ----------------------------------------------------------------------
# SWA: its learning rate, its config, the batch-normalization refresh.


def test_swa_cyclical_rate_is_the_papers_sawtooth():
    # Izmailov et al. (2018), section 3.2: alpha(i) = (1 - t) a1 + t a2,
    # t = (mod(i - 1, c) + 1) / c, for the i-th update of the phase.
    inner = keras.optimizers.SGD(0.1)
    opt = wrappers.SWA(
        inner,
        start_averaging=3,
        average_period=4,
        swa_learning_rate=0.01,
        cycle_learning_rate=0.05,
    )
    got = [float(inner._learning_rate(step)) for step in range(15)]
    want = []
    for step in range(15):
        i = step - 3 + 1  # the phase's updates, from 1
        if i < 1:
            want.append(0.1)
        else:
            t = ((i - 1) % 4 + 1) / 4
            want.append((1 - t) * 0.05 + t * 0.01)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # Each snapshot (t - 3) % 4 == 0 after update t = step + 1 falls on
    # the cycle's lowest rate.
    assert all(got[t - 1] == pytest.approx(0.01) for t in (7, 11, 15))
    assert opt.snapshots is None  # made when the optimizer is built


def test_swa_config_round_trips_with_one_schedule():
    opt = wrappers.SWA(
        keras_optim_zoo.get(
            "zoo_momentum",
            learning_rate=keras_optim_zoo.schedules.get(
                "zoo_cosine", initial_learning_rate=0.1, decay_steps=50
            ),
        ),
        start_averaging=20,
        average_period=5,
        swa_learning_rate=0.02,
        anneal_steps=4,
        anneal_strategy="linear",
    )
    serialized = json.loads(
        json.dumps(keras.saving.serialize_keras_object(opt))
    )
    inner_rate = serialized["config"]["optimizer"]["config"]["learning_rate"]
    assert inner_rate["class_name"] == "Cosine"  # not the SWA schedule
    copy = keras.optimizers.get(serialized)
    assert copy.get_config() == opt.get_config()
    a = opt.inner_optimizer._learning_rate
    b = copy.inner_optimizer._learning_rate
    assert type(b) is type(a) and not isinstance(b.base, type(a))
    for step in (0, 19, 20, 22, 24, 40):
        assert float(b(step)) == pytest.approx(float(a(step)), rel=1e-7)
    # Annealed linearly from the cosine's value at step 20 to 0.02.
    start = float(b.base(20))
    assert float(b(22)) == pytest.approx(0.02 * 0.5 + start * 0.5, rel=1e-6)


def test_swa_bad_arguments_are_rejected_naming_them():
    cases = [
        (dict(average_period=0), "`average_period`"),
        (dict(start_averaging=-1), "`start_averaging`"),
        (dict(swa_learning_rate=0.0), "`swa_learning_rate`"),
        (dict(anneal_strategy="exp"), "`anneal_strategy`"),
        (dict(cycle_learning_rate=0.1), "`cycle_learning_rate`"),
        (
            dict(
                swa_learning_rate=0.01, cycle_learning_rate=0.1, anneal_steps=3
            ),
            "`anneal_steps`",
        ),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            wrappers.SWA("zoo_sgd", **kwargs)


def _bn_model():
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(6),
            keras.layers.BatchNormalization(momentum=0.9),
            keras.layers.Dense(2),
        ]
    )


def test_update_bn_keeps_the_average_of_the_batch_statistics():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 4)).astype("float32") * 3 + 1
    model = _bn_model()
    model(x[:2])
    before = [w.copy() for w in model.get_weights()]
    bn = model.layers[1]
    assert wrappers.update_bn(model, x, batch_size=10) == 4
    kernel, bias = model.layers[0].get_weights()
    means, variances = [], []
    for i in range(0, 40, 10):
        h = x[i : i + 10].astype("float64") @ kernel + bias
        means.append(h.mean(axis=0))
        variances.append(h.var(axis=0))  # biased, as Keras's layer
    np.testing.assert_allclose(
        bn.moving_mean.numpy(), np.mean(means, axis=0), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        bn.moving_variance.numpy(),
        np.mean(variances, axis=0),
        rtol=1e-5,
        atol=1e-6,
    )
    assert bn.momentum == 0.9
    # Only the statistics changed.
    for layer in (model.layers[0], model.layers[2]):
        for w in layer.trainable_weights:
            assert any(np.array_equal(w.numpy(), b) for b in before)
    # A dataset of (x, y) batches gives the same statistics.
    mean = bn.moving_mean.numpy().copy()
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :2])).batch(10)
    assert wrappers.update_bn(model, data) == 4
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-6)
    assert wrappers.update_bn(model, x, batch_size=10, steps=2) == 2
    np.testing.assert_allclose(
        bn.moving_mean.numpy(), np.mean(means[:2], axis=0), rtol=1e-5, atol=1e-6
    )
    for kwargs, match in [
        (dict(batch_size=0), "`batch_size`"),
        (dict(steps=0), "`steps`"),
    ]:
        with pytest.raises(ValueError, match=match):
            wrappers.update_bn(model, x, **kwargs)
    with pytest.raises(ValueError, match="`data`"):
        wrappers.update_bn(model, [])


def test_swa_in_fit_then_refreshed_statistics_at_the_average():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = x[:, :2] * 2.0 - x[:, 2:3]
    model = _bn_model()
    opt = wrappers.SWA(
        keras.optimizers.SGD(0.05, momentum=0.9),
        start_averaging=8,
        average_period=4,
        swa_learning_rate=0.01,
    )
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0)
    assert int(opt.iterations) == 32 and int(opt.snapshots) == 7
    assert float(opt.learning_rate) == pytest.approx(0.01)
    training = [v.numpy().copy() for v in model.trainable_variables]
    opt.swap_evaluation_weights()
    wrappers.update_bn(model, x, batch_size=16)
    averaged_loss = model.evaluate(x, y, verbose=0)
    opt.restore_training_weights()
    for a, b in zip(model.trainable_variables, training):
        np.testing.assert_array_equal(a.numpy(), b)
    assert np.isfinite(averaged_loss)
