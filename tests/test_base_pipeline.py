"""The base's pipeline stages, each exercised by a small test optimizer.

These optimizers are defined here (not registered): each uses one stage of
`ZooOptimizer` (a reduction over all variables, a slot initialised from the
parameter with an evaluation point, a slot in another dtype, per-variable
groups with slots of other shapes, lazy sparse updates) and is checked
against NumPy, compiled and uncompiled.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import keras_optim_zoo
from keras_optim_zoo.callbacks import SwapEvaluationWeights
from keras_optim_zoo.core import PARAM, Slot, ZooOptimizer, base, fraction
from tests.reference import keras_parity, problem

MODES = [False, True]  # jit_compile


class GlobalNormSGD(ZooOptimizer):
    """theta -= lr * g / ||g||, the norm over ALL variables (a reduction)."""

    @staticmethod
    def reduce(grad, param, slots, hp):
        return {"sq_norm": ops.sum(ops.square(grad))}

    @staticmethod
    def update_rule(grad, param, slots, hp):
        return param - hp.lr * grad / ops.sqrt(hp.sq_norm), {}


class AveragedSGD(ZooOptimizer):
    """SGD whose evaluation point is the running mean of the iterates."""

    slots = (Slot("average", init=PARAM),)

    @staticmethod
    def update_rule(grad, param, slots, hp):
        new = param - hp.lr * grad
        avg = slots["average"] + (new - slots["average"]) / (hp.step + 1)
        return new, {"average": avg}

    @staticmethod
    def evaluation_rule(param, slots, hp):
        return slots["average"]


class Float32Momentum(ZooOptimizer):
    """Heavy ball whose momentum is float32 whatever the weights' dtype."""

    hyperparameters = {"momentum": fraction(0.9)}
    slots = (Slot("m", dtype="float32"),)

    @staticmethod
    def update_rule(grad, param, slots, hp):
        mu = ops.cast(hp.momentum, "float32")
        m = slots["m"] * mu + ops.cast(grad, "float32")
        return param - ops.cast(m, param.dtype) * hp.lr, {"m": m}


class RoutedRowScale(ZooOptimizer):
    """Matrices keep a per-row statistic, everything else a full momentum."""

    slots = (
        Slot("rows", shape=lambda s: s[:1], groups=("matrix",)),
        Slot("m", groups=("other",)),
    )

    def variable_group(self, variable):
        return "matrix" if len(variable.shape) == 2 else "other"

    @staticmethod
    def update_rule(grad, param, slots, hp):
        if hp.group == "matrix":
            rows = slots["rows"] + ops.sum(ops.square(grad), axis=1)
            step = grad / ops.sqrt(rows)[:, None]
            return param - hp.lr * step, {"rows": rows}
        m = 0.5 * slots["m"] + grad
        return param - hp.lr * m, {"m": m}


class LazyMomentum(ZooOptimizer):
    """Momentum whose sparse updates touch only the gradient's rows."""

    slots = ("m",)
    sparse_updates = "lazy"

    @staticmethod
    def update_rule(grad, param, slots, hp):
        m = 0.5 * slots["m"] + grad
        return param - hp.lr * m, {"m": m}


def _variables():
    return [
        keras.Variable(x, name=f"w{i}") for i, x in enumerate(problem.initial())
    ]


def _steps(opt, variables, grads, in_function=False):
    def step(g):
        opt.apply_gradients(zip(g, variables))

    if in_function:
        opt.build(variables)
        step = tf.function(step)
    for g in grads:
        step([tf.constant(x) for x in g])


@pytest.mark.parametrize("in_function", [False, True])
@pytest.mark.parametrize("jit_compile", MODES)
def test_reduction_over_all_variables(jit_compile, in_function):
    grads = problem.gradients(5)
    variables = _variables()
    opt = GlobalNormSGD(learning_rate=0.1, jit_compile=jit_compile)
    _steps(opt, variables, grads, in_function)
    expected = [x.astype("float64") for x in problem.initial()]
    for g in grads:
        norm = np.sqrt(
            sum(float(np.sum(np.square(x, dtype="float64"))) for x in g)
        )
        expected = [w - 0.1 * x / norm for w, x in zip(expected, g)]
    for v, e in zip(variables, expected):
        np.testing.assert_allclose(v.numpy(), e, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("jit_compile", MODES)
def test_slot_from_parameter_and_evaluation_point(jit_compile):
    grads = problem.gradients(6)
    variables = _variables()
    opt = AveragedSGD(learning_rate=0.1, jit_compile=jit_compile)
    assert AveragedSGD.has_evaluation_point
    _steps(opt, variables, grads)
    iterates = [[x.astype("float64") for x in problem.initial()]]
    for g in grads:
        iterates.append([w - 0.1 * x for w, x in zip(iterates[-1], g)])
    mean = [np.mean([it[i] for it in iterates], axis=0) for i in range(6)]
    got = [v.numpy() for v in opt.evaluation_values()]
    for a, b in zip(got, mean):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    training = [v.numpy() for v in variables]
    opt.swap_evaluation_weights()
    assert opt.evaluating
    for v, a in zip(variables, got):
        np.testing.assert_array_equal(v.numpy(), a)
    with pytest.raises(ValueError, match="restore_training_weights"):
        opt.apply_gradients(zip([tf.constant(x) for x in grads[0]], variables))
    opt.restore_training_weights()
    for v, t in zip(variables, training):
        np.testing.assert_array_equal(v.numpy(), t)
    with pytest.raises(ValueError, match="nothing to restore"):
        opt.restore_training_weights()


def _regression(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype("float32")
    return model, x, x.sum(axis=1, keepdims=True)


def test_swap_evaluation_weights_callback_in_fit():
    logs = {}
    for use_callback in (False, True):
        model, x, y = _regression()
        opt = AveragedSGD(learning_rate=0.05)
        model.compile(optimizer=opt, loss="mse")
        callbacks = [SwapEvaluationWeights()] if use_callback else []
        history = model.fit(
            x,
            y,
            batch_size=8,
            epochs=3,
            shuffle=False,
            verbose=0,
            validation_data=(x, y),
            callbacks=callbacks,
        )
        logs[use_callback] = (history.history, model.get_weights(), opt)
        if use_callback:
            # Validation ran at the average; training continued exactly.
            opt.swap_evaluation_weights()
            at_average = model.evaluate(x, y, verbose=0)
            opt.restore_training_weights()
            assert history.history["val_loss"][-1] == pytest.approx(
                at_average, rel=1e-6
            )
    for a, b in zip(logs[False][1], logs[True][1]):
        np.testing.assert_array_equal(a, b)
    assert logs[False][0]["loss"] == logs[True][0]["loss"]
    assert logs[False][0]["val_loss"] != logs[True][0]["val_loss"]


def test_callback_rejects_optimizer_without_evaluation_point():
    model, x, y = _regression()
    model.compile(optimizer=LazyMomentum(), loss="mse")
    with pytest.raises(ValueError, match="no evaluation point"):
        model.fit(
            x, y, epochs=1, verbose=0, callbacks=[SwapEvaluationWeights()]
        )


@pytest.mark.parametrize("jit_compile", MODES)
def test_slot_dtype_differs_from_parameter(jit_compile):
    variables = [keras.Variable(np.ones((3, 2)), dtype="bfloat16")]
    opt = Float32Momentum(learning_rate=0.5, jit_compile=jit_compile)
    g = np.full((3, 2), 0.01, "float32")
    m = np.zeros((3, 2), "float32")
    w = np.ones((3, 2), "float32")
    for _ in range(4):
        opt.apply_gradients([(tf.constant(g, "bfloat16"), variables[0])])
        m = (
            m * np.float32(0.9)
            + tf.cast(tf.cast(g, "bfloat16"), "float32").numpy()
        )
        w = tf.cast(
            tf.cast(w, "bfloat16")
            - tf.cast(m, "bfloat16") * tf.cast(0.5, "bfloat16"),
            "float32",
        ).numpy()
    slot = opt.slot_variables(variables[0])["m"]
    assert slot.dtype == "float32" and variables[0].dtype == "bfloat16"
    np.testing.assert_allclose(slot.numpy(), m, rtol=1e-6)
    np.testing.assert_array_equal(
        tf.cast(variables[0].value, "float32").numpy(), w
    )


@pytest.mark.parametrize("jit_compile", MODES)
def test_groups_route_variables_to_their_slots(jit_compile):
    grads = problem.gradients(3)
    variables = _variables()
    opt = RoutedRowScale(learning_rate=0.1, jit_compile=jit_compile)
    _steps(opt, variables, grads)
    for i, (v, shape) in enumerate(zip(variables, problem.SHAPES)):
        slots = opt.slot_variables(v)
        w = problem.initial()[i].astype("float64")
        if len(shape) == 2:
            assert list(slots) == ["rows"] and slots["rows"].shape == shape[:1]
            rows = np.zeros(shape[0])
            for g in grads:
                rows = rows + np.sum(np.square(g[i], dtype="float64"), axis=1)
                w = w - 0.1 * g[i] / np.sqrt(rows)[:, None]
        else:
            assert list(slots) == ["m"] and slots["m"].shape == shape
            m = np.zeros(shape)
            for g in grads:
                m = 0.5 * m + g[i]
                w = w - 0.1 * m
        np.testing.assert_allclose(v.numpy(), w, rtol=2e-6, atol=2e-6)
    # The routed set is smaller than one full-size slot per parameter.
    params = sum(int(np.prod(s)) for s in problem.SHAPES)
    full = sum(int(np.prod(s)) for s in problem.SHAPES if len(s) != 2)
    rows = sum(s[0] for s in problem.SHAPES if len(s) == 2)
    assert opt.state_bytes() == pytest.approx(4 * (full + rows) / params)
    assert RoutedRowScale.state_bytes_per_parameter is None


def _lazy_oracle(steps, indices, values, rows=6, dim=3):
    w = np.arange(rows * dim, dtype="float64").reshape(rows, dim) / 10
    m = np.zeros((rows, dim))
    for _ in range(steps):
        g = np.zeros((rows, dim))
        np.add.at(g, indices, values)
        touched = np.unique(indices)
        m[touched] = 0.5 * m[touched] + g[touched]
        w[touched] = w[touched] - 0.1 * m[touched]
    return w, m


@pytest.mark.parametrize("outer_jit", [None, False, True])
@pytest.mark.parametrize("jit_compile", MODES)
def test_lazy_sparse_updates_touch_only_their_rows(jit_compile, outer_jit):
    indices = np.array([1, 3, 1])  # row 1 twice: its rows are summed
    values = np.array([[1, 2, 3], [4, 5, 6], [0.5, 0.5, 0.5]], "float32")
    start = np.arange(18, dtype="float32").reshape(6, 3) / 10
    var = keras.Variable(start)
    opt = LazyMomentum(learning_rate=0.1, jit_compile=jit_compile)
    opt.build([var])
    grad = tf.IndexedSlices(
        tf.constant(values), tf.constant(indices), tf.constant([6, 3])
    )

    def step():
        opt.apply_gradients([(grad, var)])

    if outer_jit is not None:
        step = tf.function(step, jit_compile=outer_jit)
    for _ in range(3):
        step()
    w, m = _lazy_oracle(3, indices, values)
    np.testing.assert_allclose(var.numpy(), w, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        opt.slot_variables(var)["m"].numpy(), m, rtol=1e-6, atol=1e-6
    )
    for row in (0, 2, 4, 5):  # never touched: bit-identical, zero moments
        np.testing.assert_array_equal(var.numpy()[row], start[row])


def test_lazy_updates_need_full_size_slots():
    class Broken(LazyMomentum):
        slots = (Slot("m", shape=lambda s: s[:1]),)

    with pytest.raises(ValueError, match="lazy sparse updates"):
        Broken().build([keras.Variable(np.zeros((4, 2), "float32"))])


def _traced_step(opt, var):
    @tf.function(jit_compile=True)
    def step(grad):
        opt.apply_gradients([(grad, var)])

    return step


@pytest.mark.parametrize(
    "name", ["zoo_schedule_free_sgd", "zoo_asgd", "zoo_ranger"]
)
def test_state_copied_from_the_weights_when_built_inside_a_traced_step(name):
    # A custom loop whose tf.function builds the optimizer on its first
    # call: the copy of the weights must be taken then, not replayed (or
    # lost) as an op of the traced graph. Same state as built eagerly.
    states = []
    for build_first in (True, False):
        var = keras.Variable(np.linspace(1.0, 2.0, 6).astype("float32"))
        opt = keras_optim_zoo.get(name)
        if build_first:
            opt.build([var])

        step = _traced_step(opt, var)
        for _ in range(2):
            step(tf.fill([6], 0.5))
        states.append([v.numpy() for v in opt.variables] + [var.numpy()])
    for a, b in zip(*states):
        np.testing.assert_array_equal(a, b)


_INLINE_SIZE = base.INLINE_SIZE  # read before the suite's fixture sets 0


@pytest.mark.parametrize("mode", ["eager", "function"])
def test_small_variables_inline_equal_op_by_op(
    optimizer_class, mode, monkeypatch
):
    """The compiled path's small variables (at most `INLINE_SIZE`
    elements: here all of them) run op by op in the step's graph, with the
    step's scalars computed once: the numbers of `jit_compile=False`,
    which computes them per variable, bit for bit, over 20 steps."""
    grads, init = problem.gradients(20), problem.initial()
    monkeypatch.setattr(base, "INLINE_SIZE", _INLINE_SIZE)
    inline = keras_parity.run(optimizer_class(), mode, grads, init)[0]
    # In a graph both ("eager": the compiled path traces the whole step):
    # eager op-by-op execution skips Grappler's rewrites.
    op_by_op = keras_parity.run(
        optimizer_class(jit_compile=False), "function", grads, init
    )[0]
    for a, b in zip(inline, op_by_op):
        np.testing.assert_array_equal(a, b)
