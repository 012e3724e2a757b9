"""The learning-rate schedules: one suite over every registered name.

For each example in `CASES` (every registered schedule must have one):
values against the float64 oracle in `reference/schedule_reference.py` at
every step up to past the last boundary and far beyond; vectorized calls
against scalar ones; the config round trip; XLA; use by an optimizer.
Invalid arguments are derived from each schedule's declarations. Finally,
the values of the public implementations each schedule claims to match:
Keras's built-ins, called here, and torch and optax, read from
`reference/schedule_values.json` (written by
`reference/make_schedule_values.py`; neither library is imported here).
"""

import dataclasses
import json
import math
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_optim_zoo import schedules
from keras_optim_zoo.core import registry
from keras_optim_zoo.core.hyper import Hyper
from keras_optim_zoo.schedules.base import Choice, ListOf, Nested
from tests.reference import schedule_reference

# float32 results against a float64 oracle (or float32 Keras): a few ulps
# relative, and an absolute floor for values that cancel to near 0.
RTOL, ATOL = 1e-6, 1e-7
FAR = 10**6  # "beyond the end" for every example; exact in float32

S = schedules


@dataclasses.dataclass
class Case:
    """Constructor arguments and the steps where something happens."""

    args: dict
    key: tuple  # boundaries and their neighbours; values run to max + 10

    def steps(self):
        dense = range(max(self.key) + 10)
        return np.array(sorted(set(dense) | set(self.key) | {FAR}))


CASES = {
    "zoo_constant": [Case(dict(value=0.3), (0, 1, 5))],
    "zoo_linear": [
        Case(dict(start=0.5, end=0.05, steps=20), (0, 1, 19, 20, 21)),
        Case(dict(start=0.0, end=1.0, steps=7), (0, 6, 7, 8)),
    ],
    "zoo_polynomial": [
        Case(
            dict(
                initial_learning_rate=0.5,
                decay_steps=30,
                end_learning_rate=0.01,
                power=2.0,
            ),
            (0, 1, 29, 30, 31),
        ),
        Case(
            dict(
                initial_learning_rate=0.5,
                decay_steps=10,
                end_learning_rate=0.0,
                power=0.5,
                cycle=True,
            ),
            (0, 1, 9, 10, 11, 19, 20, 21, 30, 31),
        ),
        Case(dict(initial_learning_rate=0.1, decay_steps=10), (0, 10, 11)),
    ],
    "zoo_exponential": [
        Case(
            dict(initial_learning_rate=0.5, decay_steps=10, decay_rate=0.7),
            (0, 1, 10, 50),
        ),
        Case(
            dict(
                initial_learning_rate=0.5,
                decay_steps=10,
                decay_rate=0.7,
                staircase=True,
            ),
            (0, 9, 10, 11, 19, 20, 21),
        ),
    ],
    "zoo_inverse_time": [
        Case(
            dict(initial_learning_rate=0.5, decay_steps=10, decay_rate=0.5),
            (0, 1, 10, 50),
        ),
        Case(
            dict(
                initial_learning_rate=0.5,
                decay_steps=10,
                decay_rate=0.5,
                staircase=True,
            ),
            (0, 9, 10, 11, 19, 20, 21),
        ),
    ],
    "zoo_step_decay": [
        Case(
            dict(initial_learning_rate=0.3, step_size=7, gamma=0.5),
            (0, 6, 7, 8, 13, 14, 15),
        ),
        Case(dict(initial_learning_rate=1.0, step_size=5), (0, 4, 5, 10)),
    ],
    "zoo_multistep": [
        Case(
            dict(initial_learning_rate=0.2, milestones=[3, 10, 25], gamma=0.3),
            (0, 2, 3, 4, 9, 10, 11, 24, 25, 26),
        ),
        Case(dict(initial_learning_rate=0.2, milestones=[0, 8]), (0, 1, 7, 8)),
    ],
    "zoo_inverse_sqrt": [
        Case(
            dict(peak_learning_rate=0.01, warmup_steps=10),
            (0, 1, 8, 9, 10, 11, 100),
        ),
        Case(dict(peak_learning_rate=0.5, warmup_steps=1), (0, 1, 2)),
    ],
    "zoo_noam": [
        Case(dict(d_model=64, warmup_steps=20), (0, 18, 19, 20, 21)),
        Case(dict(d_model=512, scale=2.0), (0, 3998, 3999, 4000)),
    ],
    "zoo_cosine": [
        Case(
            dict(initial_learning_rate=0.4, decay_steps=40, alpha=0.05),
            (0, 1, 39, 40, 41),
        ),
        Case(dict(initial_learning_rate=1.0, decay_steps=1), (0, 1, 2)),
    ],
    "zoo_warmup_cosine": [
        Case(
            dict(
                peak_learning_rate=0.6,
                warmup_steps=10,
                decay_steps=60,
                init_value=0.01,
                end_value=0.02,
            ),
            (0, 1, 9, 10, 11, 59, 60, 61),
        ),
        Case(
            dict(peak_learning_rate=0.3, warmup_steps=0, decay_steps=25),
            (0, 1, 24, 25, 26),
        ),
    ],
    "zoo_sgdr": [
        # Restarts at 10, 30, 70, 150.
        Case(
            dict(
                initial_learning_rate=0.5,
                first_decay_steps=10,
                t_mul=2.0,
                m_mul=0.8,
                alpha=0.1,
            ),
            (0, 1, 9, 10, 11, 29, 30, 31, 69, 70, 71, 149, 150, 151),
        ),
        # Restarts at 10, 25, 47.5, 81.25, 131.875; warm-up 3 steps each.
        Case(
            dict(
                initial_learning_rate=1.0,
                first_decay_steps=10,
                t_mul=1.5,
                m_mul=0.5,
                alpha=0.1,
                warmup_steps=3,
            ),
            (
                0,
                2,
                3,
                4,
                9,
                10,
                12,
                13,
                14,
                24,
                25,
                27,
                28,
                47,
                48,
                50,
                51,
                81,
                82,
                131,
                132,
                135,
            ),
        ),
        Case(
            dict(initial_learning_rate=0.3, first_decay_steps=6, t_mul=1.0),
            (0, 5, 6, 7, 11, 12, 13),
        ),
        # Integer t_mul 3: restarts at 7, 28, 91, 280.
        Case(
            dict(
                initial_learning_rate=1.0,
                first_decay_steps=7,
                t_mul=3.0,
                warmup_steps=2,
            ),
            (0, 6, 7, 8, 9, 27, 28, 29, 90, 91, 92, 279, 280, 281),
        ),
    ],
    "zoo_wsd": [
        Case(
            dict(
                peak_learning_rate=0.5,
                warmup_steps=10,
                stable_steps=20,
                decay_steps=15,
                decay=decay,
                init_value=0.05,
                end_value=0.01,
            ),
            (0, 1, 9, 10, 11, 29, 30, 31, 44, 45, 46),
        )
        for decay in ("linear", "cosine", "1-sqrt")
    ]
    + [
        Case(
            dict(
                peak_learning_rate=0.5,
                warmup_steps=0,
                stable_steps=0,
                decay_steps=5,
            ),
            (0, 1, 4, 5, 6),
        ),
    ],
    "zoo_one_cycle": [
        Case(
            dict(max_learning_rate=0.5, total_steps=100, pct_start=0.25),
            (0, 1, 23, 24, 25, 98, 99, 100, 101),
        ),
        Case(
            dict(
                max_learning_rate=0.8,
                total_steps=50,
                anneal="linear",
                div_factor=10.0,
                final_div_factor=100.0,
                three_phase=True,
            ),
            (0, 13, 14, 15, 27, 28, 29, 48, 49, 50),
        ),
        # Fractional end of the first phase: 0.29 * 37 - 1 = 9.73.
        Case(
            dict(max_learning_rate=1.0, total_steps=37, pct_start=0.29),
            (0, 9, 10, 11, 35, 36, 37),
        ),
    ],
    "zoo_one_cycle_momentum": [
        Case(
            dict(total_steps=100, pct_start=0.25),
            (0, 1, 23, 24, 25, 98, 99, 100),
        ),
        Case(
            dict(
                total_steps=50,
                base_momentum=0.8,
                max_momentum=0.9,
                anneal="linear",
                three_phase=True,
            ),
            (0, 13, 14, 15, 27, 28, 29, 48, 49, 50),
        ),
    ],
    "zoo_cyclical": [
        Case(
            dict(
                initial_learning_rate=0.01,
                maximal_learning_rate=0.1,
                step_size=5,
                mode=mode,
            ),
            (0, 4, 5, 6, 9, 10, 11, 15, 20, 21),
        )
        for mode in ("triangular", "triangular2", "exp_range")
    ]
    + [
        Case(
            dict(
                initial_learning_rate=0.02,
                maximal_learning_rate=0.2,
                step_size=6,
                mode="exp_range",
                gamma=0.97,
            ),
            (0, 6, 12, 13, 18, 24),
        ),
        Case(
            dict(
                initial_learning_rate=0.02,
                maximal_learning_rate=0.2,
                step_size=2.5,
                mode="exp_range",
                gamma=0.9,
                scale_mode="cycle",
            ),
            (0, 2, 3, 5, 7, 10),
        ),
        Case(
            dict(
                initial_learning_rate=0.3,
                maximal_learning_rate=0.1,
                step_size=3,
                mode="triangular2",
                scale_mode="iterations",
            ),
            (0, 3, 6, 9),
        ),
    ],
    "zoo_piecewise": [
        Case(
            dict(
                boundaries=[5, 15, 30],
                values=[0.1, 0.5, 0.02],
                interpolation=interpolation,
            ),
            (0, 4, 5, 6, 14, 15, 16, 29, 30, 31),
        )
        for interpolation in ("linear", "cosine", "constant")
    ]
    + [Case(dict(boundaries=[10], values=[0.2]), (0, 9, 10, 11))],
    "zoo_adjustable_scale": [
        Case(
            dict(schedule=S.Exponential(0.5, 10, 0.7), factor=0.25),
            (0, 10, 20),
        ),
        Case(dict(schedule=0.3, factor=2.0), (0, 1)),
    ],
    "zoo_warmup": [
        Case(
            dict(schedule=S.Cosine(0.5, 30), warmup_steps=10, init_value=0.01),
            (0, 1, 9, 10, 11, 39, 40, 41),
        ),
        Case(
            dict(schedule=S.Cosine(0.5, 30), warmup_steps=10, offset=False),
            (0, 1, 9, 10, 11, 29, 30, 31),
        ),
        Case(dict(schedule=0.2, warmup_steps=5), (0, 4, 5, 6)),
        Case(dict(schedule=S.InverseSqrt(0.1, 4), warmup_steps=0), (0, 3)),
    ],
    "zoo_join": [
        Case(
            dict(
                schedules=[
                    S.Linear(0.0, 1.0, 10),
                    S.Cosine(1.0, 20, 0.1),
                    0.05,
                ],
                boundaries=[10, 30],
            ),
            (0, 9, 10, 11, 29, 30, 31),
        ),
        Case(
            dict(
                schedules=[
                    S.Warmup(S.Exponential(0.4, 5, 0.5), 4),
                    S.Join([0.3, S.Linear(0.3, 0.0, 8)], [2]),
                ],
                boundaries=[12],
            ),
            (0, 3, 4, 5, 11, 12, 13, 14, 15, 22, 23),
        ),
        Case(dict(schedules=[0.1], boundaries=[]), (0, 1)),
    ],
    "zoo_scale": [
        Case(
            dict(schedule=S.Exponential(0.5, 10, 0.7), factor=0.5),
            (0, 10, 20),
        ),
        Case(dict(schedule=0.3, factor=2.0), (0, 1)),
    ],
}


def _examples():
    for name in schedules.list_schedules():
        cases = CASES.get(name) or [None]
        for i, case in enumerate(cases):
            yield pytest.param((name, case), id=f"{name}-{i}")


@pytest.fixture(params=list(_examples()))
def example(request):
    name, case = request.param
    if case is None:
        pytest.fail(
            f"{name} is registered but has no example in CASES: add one "
            "(and its oracle in reference/schedule_reference.py)."
        )
    return name, case, schedules.get(name, **case.args)


def test_examples_name_registered_schedules():
    assert set(CASES) <= set(schedules.list_schedules())
    assert set(schedule_reference.REFERENCES) == set(CASES)


# ----------------------------------------------------------------------
# Oracle.


def oracle(schedule, args=None):
    """`step -> float` from the float64 oracle of a schedule.

    `args` are the constructor arguments (the oracle's own defaults fill
    the rest); without them, those in the schedule's config.
    """
    if args is None:
        args = schedule.get_config()
        del args["name"]
    fn = schedule_reference.REFERENCES[schedule.registered_name]
    args = {k: _oracle_arg(v) for k, v in args.items()}
    return lambda step: fn(int(step), **args)


def _oracle_arg(value):
    if isinstance(value, dict):
        value = keras.saving.deserialize_keras_object(value)
    if isinstance(value, schedules.ZooSchedule):
        return oracle(value)
    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return lambda step: float(value(step))
    if isinstance(value, list):
        return [_oracle_arg(v) for v in value]
    return value


def values(schedule, steps, dtype="int64"):
    return keras.ops.convert_to_numpy(schedule(tf.constant(steps, dtype=dtype)))


def test_values_match_oracle(example):
    name, case, schedule = example
    steps = case.steps()
    got = values(schedule, steps)
    assert got.dtype == np.float32 and got.shape == steps.shape
    want = [oracle(schedule, case.args)(s) for s in steps]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_vectorized_equals_scalar_calls(example):
    name, case, schedule = example
    key = np.array(case.key + (FAR,))
    batch = values(schedule, key)
    for i, step in enumerate(key):
        for scalar in (
            int(step),
            tf.constant(step, tf.int64),
            tf.constant(step, tf.int32),
            float(step),
        ):
            got = schedule(scalar)
            assert got.shape == () and got.dtype == "float32"
            # Not bit for bit: on CPU, Eigen evaluates pow, sin, exp...
            # on full SIMD packets with its own approximations and on the
            # rest with libm, so an element of a long vector can differ
            # from the same scalar by an ulp (tf.pow(0.9, 0.5) does).
            np.testing.assert_allclose(
                float(got),
                batch[i],
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"step {step} given as {scalar!r}",
            )


def test_config_round_trip(example):
    name, case, schedule = example
    config = schedule.get_config()
    assert set(config) == set(type(schedule).arguments) | {"name"}
    serialized = json.loads(
        json.dumps(keras.saving.serialize_keras_object(schedule))
    )
    copies = [
        keras.saving.deserialize_keras_object(serialized),
        type(schedule).from_config(config),
        schedules.get(serialized),
        schedules.get(name, **config),
        keras.optimizers.schedules.deserialize(
            keras.optimizers.schedules.serialize(schedule)
        ),
    ]
    steps = np.array(case.key + (FAR,))
    for copy in copies:
        assert type(copy) is type(schedule)
        assert copy.get_config() == config
        np.testing.assert_array_equal(
            values(copy, steps), values(schedule, steps)
        )


def test_xla(example):
    name, case, schedule = example
    steps = case.steps()
    compiled = tf.function(schedule, jit_compile=True)
    # XLA's own sin/cos/exp/log may differ from Eigen's by an ulp or two.
    np.testing.assert_allclose(
        compiled(tf.constant(steps, tf.int64)).numpy(),
        values(schedule, steps),
        rtol=RTOL,
        atol=ATOL,
    )
    # A scalar int64 variable, as an optimizer's `iterations`.
    iterations = tf.Variable(0, dtype=tf.int64)
    read = tf.function(lambda: schedule(iterations), jit_compile=True)
    for step in case.key[-2:]:
        iterations.assign(step)
        np.testing.assert_allclose(
            read().numpy(),
            values(schedule, [step])[0],
            rtol=RTOL,
            atol=ATOL,
        )


def test_drives_an_optimizer(example):
    name, case, schedule = example
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    for step in case.key[-2:]:
        optimizer.iterations.assign(step)
        assert float(optimizer.learning_rate) == values(schedule, [step])[0]
    restored = keras.optimizers.deserialize(
        json.loads(json.dumps(keras.optimizers.serialize(optimizer)))
    )
    assert (
        restored.get_config()["learning_rate"]
        == (optimizer.get_config()["learning_rate"])
    )


def test_survives_save_and_load_inside_an_optimizer(example, tmp_path):
    # fit -> model.save -> load_model -> fit continues the schedule at the
    # right step, with the same weights as training without the break.
    name, case, schedule = example
    x = np.linspace(-1, 1, 24, dtype="float32").reshape(8, 3)
    y = np.ones((8, 1), "float32")

    def model():
        keras.utils.set_random_seed(0)
        net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        net.compile(
            optimizer=registry.get(
                "optimizer",
                "zoo_sgd",
                learning_rate=schedules.get(name, **case.args),
            ),
            loss="mse",
        )
        return net

    straight = model()
    straight.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    first = model()
    first.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / "m.keras")
    first.save(path)
    loaded = keras.models.load_model(path)
    assert (
        loaded.optimizer.get_config()["learning_rate"]
        == first.optimizer.get_config()["learning_rate"]
    )
    loaded.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert int(loaded.optimizer.iterations) == 8
    for a, b in zip(loaded.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_trains_a_model_with_a_zoo_optimizer():
    schedule = schedules.get(
        "zoo_warmup_cosine",
        peak_learning_rate=0.1,
        warmup_steps=2,
        decay_steps=6,
    )
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(
        optimizer=registry.get("optimizer", "zoo_sgd", learning_rate=schedule),
        loss="mse",
        jit_compile=True,
    )
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 4
    assert float(model.optimizer.learning_rate) == float(schedule(4))


# ----------------------------------------------------------------------
# Validation.


def _bad_values(spec):
    """Values that `spec` must reject."""
    if isinstance(spec, Hyper):
        if spec.kind == "bool":
            return ["yes", 1]
        bad = ["text", None, 1.5 if spec.kind == "int" else math.nan]
        if spec.low is not None:
            bad.append(spec.low if spec.low_open else spec.low - 1)
        if spec.high is not None:
            bad.append(spec.high if spec.high_open else spec.high + 1)
        return bad
    if isinstance(spec, Choice):
        return ["bogus", 3]
    if isinstance(spec, Nested):
        return ["bogus", -1.0, {"class_name": "NoSuchSchedule"}]
    if isinstance(spec, ListOf):
        bad = [42, "text", [_bad_values(spec.item)[0]]]
        if spec.min_length:
            bad.append([])
        return bad
    raise TypeError(f"unknown declaration {spec!r}")


def test_invalid_arguments_raise_naming_the_argument(example):
    name, case, schedule = example
    cls = type(schedule)
    for key, spec in cls.arguments.items():
        for bad in _bad_values(spec):
            args = dict(case.args, **{key: bad})
            with pytest.raises(ValueError, match=re.escape(f"`{key}")):
                cls(**args)
        if isinstance(spec, Choice):  # the message lists what is allowed
            with pytest.raises(ValueError) as info:
                cls(**dict(case.args, **{key: "bogus"}))
            for option in spec.options:
                assert repr(option) in str(info.value)


@pytest.mark.parametrize(
    "name, args, argument",
    [
        ("zoo_linear", dict(start=-0.1, end=0.0, steps=5), "start"),
        (
            "zoo_cosine",
            dict(initial_learning_rate=0.1, decay_steps=0),
            "decay_steps",
        ),
        (
            "zoo_warmup_cosine",
            dict(peak_learning_rate=0.1, warmup_steps=-1, decay_steps=10),
            "warmup_steps",
        ),
        (
            "zoo_warmup_cosine",
            dict(peak_learning_rate=0.1, warmup_steps=10, decay_steps=10),
            "decay_steps",
        ),
        (
            "zoo_sgdr",
            dict(
                initial_learning_rate=0.1, first_decay_steps=5, warmup_steps=5
            ),
            "warmup_steps",
        ),
        (
            "zoo_sgdr",
            dict(initial_learning_rate=0.1, first_decay_steps=5, t_mul=0.5),
            "t_mul",
        ),
        (
            "zoo_one_cycle",
            dict(max_learning_rate=0.1, total_steps=10, pct_start=1.0),
            "pct_start",
        ),
        (
            "zoo_one_cycle",  # 0.1 * 10 - 1 = 0: a first phase of no steps
            dict(max_learning_rate=0.1, total_steps=10, pct_start=0.1),
            "pct_start",
        ),
        (
            "zoo_one_cycle",
            dict(
                max_learning_rate=0.1,
                total_steps=10,
                pct_start=0.6,
                three_phase=True,
            ),
            "pct_start",
        ),
        ("zoo_one_cycle_momentum", dict(total_steps=3), "pct_start"),
        (
            "zoo_wsd",
            dict(
                peak_learning_rate=0.1,
                warmup_steps=1,
                stable_steps=1,
                decay_steps=1,
                decay="exp",
            ),
            "decay",
        ),
        ("zoo_piecewise", dict(boundaries=[0, 10], values=[0.1]), "values"),
        (
            "zoo_piecewise",
            dict(boundaries=[10, 5], values=[0.1, 0.2]),
            "boundaries",
        ),
        (
            "zoo_multistep",
            dict(initial_learning_rate=0.1, milestones=[5, 5]),
            "milestones",
        ),
        ("zoo_join", dict(schedules=[0.1, 0.2], boundaries=[]), "boundaries"),
        (
            "zoo_join",
            dict(schedules=[0.1, -0.2], boundaries=[3]),
            "schedules[1]",
        ),
        ("zoo_warmup", dict(schedule=print, warmup_steps=3), "schedule"),
    ],
)
def test_invalid_combinations(name, args, argument):
    with pytest.raises(ValueError, match=re.escape(f"`{argument}`")):
        schedules.get(name, **args)


def test_unknown_and_missing_arguments():
    with pytest.raises(ValueError, match="warmup"):
        schedules.get(
            "zoo_cosine", initial_learning_rate=0.1, decay_steps=10, warmup=3
        )
    with pytest.raises(TypeError, match="decay_steps"):
        schedules.Cosine(0.1)
    with pytest.raises(KeyError, match="zoo_cosine"):
        schedules.get("zoo_cosin")


def test_package_interface():
    assert schedules.list_schedules("zoo_one_cycle*") == [
        "zoo_one_cycle",
        "zoo_one_cycle_momentum",
    ]
    assert isinstance(schedules.get(0.25), schedules.Constant)
    assert schedules.OneCycle.registered_name == "zoo_one_cycle"
    assert "OneCycle" in dir(schedules)
    with pytest.raises(AttributeError):
        schedules.NoSuchSchedule  # noqa: B018
    signature = str(__import__("inspect").signature(schedules.WSD))
    assert signature.startswith("(peak_learning_rate, warmup_steps,")


def test_wraps_keras_built_in_schedules():
    inner = keras.optimizers.schedules.CosineDecay(0.5, 30, alpha=0.1)
    schedule = schedules.Warmup(inner, warmup_steps=5)
    steps = np.arange(40)
    want = [oracle(schedule)(s) for s in steps]
    np.testing.assert_allclose(
        values(schedule, steps), want, rtol=RTOL, atol=ATOL
    )
    copy = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule)
    )
    assert type(copy.schedule) is keras.optimizers.schedules.CosineDecay


# ----------------------------------------------------------------------
# Public implementations.

K = keras.optimizers.schedules

KERAS_PAIRS = [
    (K.CosineDecay(0.4, 40, alpha=0.05), S.Cosine(0.4, 40, alpha=0.05)),
    (
        K.CosineDecay(0.01, 50, alpha=0.1, warmup_target=0.5, warmup_steps=10),
        S.WarmupCosine(0.5, 10, 60, init_value=0.01, end_value=0.05),
    ),
    (K.ExponentialDecay(0.5, 10, 0.7), S.Exponential(0.5, 10, 0.7)),
    (
        K.ExponentialDecay(0.5, 10, 0.7, staircase=True),
        S.Exponential(0.5, 10, 0.7, staircase=True),
    ),
    (K.ExponentialDecay(0.3, 7, 0.5, staircase=True), S.StepDecay(0.3, 7, 0.5)),
    (
        K.PolynomialDecay(0.5, 30, 0.01, power=2.0),
        S.Polynomial(0.5, 30, 0.01, power=2.0),
    ),
    (
        K.PolynomialDecay(0.5, 10, 0.0, power=0.5, cycle=True),
        S.Polynomial(0.5, 10, 0.0, power=0.5, cycle=True),
    ),
    (K.PolynomialDecay(0.5, 20, 0.05), S.Linear(0.5, 0.05, 20)),
    (K.InverseTimeDecay(0.5, 10, 0.5), S.InverseTime(0.5, 10, 0.5)),
    (
        K.InverseTimeDecay(0.5, 10, 0.5, staircase=True),
        S.InverseTime(0.5, 10, 0.5, staircase=True),
    ),
    (
        K.CosineDecayRestarts(0.5, 10, t_mul=2.0, m_mul=0.8, alpha=0.1),
        S.SGDR(0.5, 10, t_mul=2.0, m_mul=0.8, alpha=0.1),
    ),
    (
        K.CosineDecayRestarts(1.0, 10, t_mul=1.5, m_mul=0.5),
        S.SGDR(1.0, 10, t_mul=1.5, m_mul=0.5),
    ),
    (
        K.PiecewiseConstantDecay([10, 25], [0.3, 0.1, 0.01]),
        S.Piecewise([0, 11, 26], [0.3, 0.1, 0.01], "constant"),
    ),
]


@pytest.mark.parametrize(
    "keras_schedule, schedule",
    KERAS_PAIRS,
    ids=[f"{type(k).__name__}-{s.registered_name}" for k, s in KERAS_PAIRS],
)
def test_matches_keras_built_in(keras_schedule, schedule):
    steps = np.arange(160)
    # Keras's CosineDecay with a warm-up branches with `ops.cond`, so it
    # takes one step at a time.
    want = [float(keras_schedule(tf.constant(s, tf.int64))) for s in steps]
    np.testing.assert_allclose(
        values(schedule, steps), want, rtol=RTOL, atol=ATOL
    )


def _load_library_cases():
    path = os.path.join(
        os.path.dirname(__file__), "reference", "schedule_values.json"
    )
    with open(path) as f:
        data = json.load(f)
    return data["versions"], data["cases"]


VERSIONS, LIBRARY_CASES = _load_library_cases()


def _build(spec):
    if isinstance(spec, dict) and "zoo" in spec:
        return schedules.get(spec["zoo"], **_build(spec["args"]))
    if isinstance(spec, dict):
        return {k: _build(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_build(v) for v in spec]
    return spec


@pytest.mark.parametrize(
    "case",
    LIBRARY_CASES,
    ids=[
        f"{c['library']}-{c['schedule']['zoo']}-{i}"
        for i, c in enumerate(LIBRARY_CASES)
    ],
)
def test_matches_torch_and_optax(case):
    schedule = _build(case["schedule"])
    steps = np.array(case["steps"])
    # The library computes in float64 (optax with jax_enable_x64).
    np.testing.assert_allclose(
        values(schedule, steps),
        case["values"],
        rtol=RTOL,
        atol=ATOL,
        err_msg=f"{case['source']} ({VERSIONS[case['library']]})",
    )
    # The oracle agrees with the library to float64 precision.
    np.testing.assert_allclose(
        [oracle(schedule)(s) for s in steps],
        case["values"],
        rtol=1e-12,
        atol=1e-15,
    )
