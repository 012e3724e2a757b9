"""Keras's base features, checked against the optimizer itself.

For every registered optimizer, with or without a Keras twin: each feature
of `keras.optimizers.Optimizer` is compared with what it means, computed
outside the optimizer and fed to a second instance that has the feature
off (pre-clipped gradients for clipping, averaged gradients for
accumulation, the documented formula for weight decay and the EMA,
unscaled gradients for loss scaling). Both instances run the same compiled
update, so most comparisons are exact.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo
from tests.reference import problem
from tests.test_optimizer_contract import F32_EPS, relative_error

STEPS = 8
LR = 0.01


def _replayable(optimizer, record=None):
    """`run(grads, before_step=None)`: the weights after each step (or
    `record(optimizer, variables)`), on one instance put back to its built
    state before each call, so that its step is traced and compiled once
    (0.4-1.5 s an instance, measured; the steps of these tests take
    milliseconds). `before_step(step, variables)` runs before each step."""
    variables = [
        keras.Variable(x, name=f"w{i}") for i, x in enumerate(problem.initial())
    ]
    # Built before any `before_step`, so that state initialised from the
    # weights (schedule-free's z, ASGD's average) starts at the same point.
    optimizer.build(variables)
    state = variables + list(optimizer.variables)
    start = [v.numpy() for v in state]

    def run(grads, before_step=None):
        for v, x in zip(state, start):
            v.assign(x)
        history = []
        for step, g in enumerate(grads):
            if before_step is not None:
                before_step(step, variables)
            optimizer.apply_gradients(
                zip([tf.constant(x) for x in g], variables)
            )
            history.append(
                [v.numpy() for v in variables]
                if record is None
                else record(optimizer, variables)
            )
        return history

    run.variables = variables
    return run


def _run(optimizer, grads, before_step=None):
    """Weights after each step (a list of lists of arrays), and the
    variables."""
    run = _replayable(optimizer)
    return run(grads, before_step), run.variables


def _make(name, **kwargs):
    return keras_optim_zoo.get(name, learning_rate=LR, **kwargs)


def _keras_clip_by_norm(g, clip):
    # Keras's `_clip_by_norm` arithmetic, in float32.
    g = tf.constant(g)
    norm = tf.sqrt(tf.reduce_sum(tf.square(g)))
    return (g * clip / tf.maximum(norm, clip)).numpy()


def _keras_mean(block):
    # Keras's arithmetic: acc += g for all but the last, then
    # (g_last + acc) / k. In the zoo's traced eager step grappler turns the
    # division by the constant k into a multiplication by 1/k (measured: 1
    # ulp from an eager division, and equal to this product).
    total = [np.zeros_like(x) for x in block[0]]
    for g in block[:-1]:
        total = [t + x for t, x in zip(total, g)]
    scale = np.float32(1 / len(block))
    return [(x + t) * scale for x, t in zip(block[-1], total)]


def _same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_clipping_equals_preclipped_gradients(optimizer_name):
    grads = [[5 * x for x in g] for g in problem.gradients(STEPS)]
    plain = _replayable(_make(optimizer_name))
    clipped, _ = _run(_make(optimizer_name, clipnorm=1.0), grads)
    pre = [[_keras_clip_by_norm(x, 1.0) for x in g] for g in grads]
    _same(clipped[-1], plain(pre)[-1])

    clipped, _ = _run(_make(optimizer_name, clipvalue=0.5), grads)
    pre = [[np.clip(x, -0.5, 0.5) for x in g] for g in grads]
    _same(clipped[-1], plain(pre)[-1])

    clipped, _ = _run(_make(optimizer_name, global_clipnorm=2.0), grads)
    pre = [tf.clip_by_global_norm(g, 2.0)[0] for g in grads]
    # tf.clip_by_global_norm and Keras's own global-norm clipping round the
    # scale factor differently (one multiplication order): 1 ulp of the
    # gradients, a few ulp of the weights after 8 steps.
    assert (
        relative_error(
            clipped[-1], plain([[x.numpy() for x in g] for g in pre])[-1]
        )
        <= 4 * F32_EPS
    )


def test_accumulation_equals_averaged_gradients(optimizer_name):
    k = 3
    grads = problem.gradients(STEPS * k)
    accumulated, _ = _run(
        _make(optimizer_name, gradient_accumulation_steps=k), grads
    )
    averaged = [_keras_mean(grads[i : i + k]) for i in range(0, len(grads), k)]
    plain, _ = _run(_make(optimizer_name), averaged)
    _same(accumulated[-1], plain[-1])
    # Between updates the weights do not move.
    _same(accumulated[0], problem.initial())


def test_ema_is_the_average_of_the_trajectory(optimizer_class, optimizer_name):
    grads = problem.gradients(STEPS)
    opt = _make(optimizer_name, use_ema=True, ema_momentum=0.9)
    with_ema, variables = _run(opt, grads)
    plain, _ = _run(_make(optimizer_name), grads)
    _same(with_ema[-1], plain[-1])  # the EMA does not change training
    mu = np.float32(0.9)
    average = [w.copy() for w in plain[0]]
    for weights in plain[1:]:
        average = [
            mu * a + (np.float32(1) - mu) * w for a, w in zip(average, weights)
        ]
    if optimizer_class.evaluation_rule is None:
        # Without an evaluation point of its own, the EMA is the point.
        got = [v.numpy() for v in opt.evaluation_values(variables)]
        assert relative_error(got, average) <= 4 * F32_EPS
    # Keras's public end-of-training step writes the EMA into the model
    # (for schedule-free and ASGD too: the EMA of the training weights).
    opt.finalize_variable_values(variables)
    got = [v.numpy() for v in variables]
    assert relative_error(got, average) <= 4 * F32_EPS


def _decoupled_decay(wd):
    def before_step(step, variables):
        for v in variables:
            x = v.numpy()
            v.assign(x - x * np.float32(wd) * np.float32(LR))

    return before_step


def test_weight_decay_is_the_documented_formula(
    optimizer_class, optimizer_name
):
    if not optimizer_class.decoupled_weight_decay:
        pytest.skip("the docstring documents another weight-decay form")
    grads = problem.gradients(STEPS)
    decayed, _ = _run(_make(optimizer_name, weight_decay=0.1), grads)
    off = {"weight_decay": None}
    if not optimizer_class._all_hyperparameters["weight_decay"].optional:
        off = {"weight_decay": 0.0}
    manual, _ = _run(
        _make(optimizer_name, **off), grads, before_step=_decoupled_decay(0.1)
    )
    # The zoo folds the decay into its compiled update, where XLA fuses
    # `param - param * wd * lr` into the rule (one rounding fewer).
    assert relative_error(decayed[-1], manual[-1]) <= 4 * F32_EPS


def test_loss_scale_factor_unscales_gradients(optimizer_name):
    grads = problem.gradients(STEPS)
    scaled = [[x * np.float32(128) for x in g] for g in grads]
    a, _ = _run(_make(optimizer_name, loss_scale_factor=128.0), scaled)
    b, _ = _run(_make(optimizer_name), grads)
    _same(a[-1], b[-1])  # a power of two: exact


def _state(optimizer, variables):
    # The weights and the optimizer's state, not its hyper-parameters.
    hypers = {id(v) for v in optimizer.hyper_variables()}
    return [v.numpy() for v in variables] + [
        v.numpy() for v in optimizer.variables if id(v) not in hypers
    ]


def test_changed_hyperparameter_takes_effect(optimizer_class, optimizer_name):
    """A changeable hyper-parameter assigned after step 3 changes the
    training from there on: nothing before, and the weights or the
    optimizer state after (a growing learning rate, so that weightings by
    the largest learning rate so far matter too)."""
    grads = problem.gradients(10)
    # Learning-rate-free optimizers (default rate 1: a multiplier of their
    # estimate d, which starts at 1e-6) take steps of ~1e-9 at 0.002, too
    # small for float32 weights to show a changed weight decay.
    default = optimizer_class.default_learning_rate
    start = 0.002 if default < 1 else 2 * default
    lr = keras.optimizers.schedules.ExponentialDecay(start, 2, 1.5)

    opt = keras_optim_zoo.get(
        optimizer_name, learning_rate=lr, weight_decay=0.01
    )
    run = _replayable(opt, record=_state)

    def change(key):
        def before_step(step, variables):
            if step != 3:
                return
            value = opt.get_hyperparameter(key)
            # A change float32 can show: 2 for a small value (an epsilon,
            # a zero rate: Adafactor's epsilon_2 only acts above the
            # weights' RMS), half a fraction, and a large value (a step
            # bound, a start step, a power) made small.
            if abs(value) <= 1e-3:
                value = 2.0
            elif abs(value) < 1:
                value *= 0.5
            else:
                value *= 1e-6
            setattr(opt, key, value)

        return before_step

    baseline = run(grads)
    for key in opt._hyper_vars:  # the fixed ones raise (contract suite)
        changed = run(grads, change(key))
        _same(changed[2], baseline[2])
        assert relative_error(changed[-1], baseline[-1]) > 0, key
    # Put back to its built state, it repeats the first run exactly.
    _same(run(grads)[-1], baseline[-1])
