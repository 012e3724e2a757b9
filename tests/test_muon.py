"""Muon's routing, its beyond-Keras options, and Keras's own test values."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_optim_zoo.core.hyper import matches_path as matches_layer
from keras_optim_zoo.optimizers.muon import Muon
from tests.reference import keras_parity, problem
from tests.test_optimizer_contract import F32_EPS, relative_error


def _variables(init, names=None):
    names = names or [f"w{i}" for i in range(len(init))]
    return [keras.Variable(x, name=n) for x, n in zip(init, names)]


def _groups(opt, variables):
    return [opt._groups[opt._get_variable_index(v)] for v in variables]


# ----------------------------------------------------------------------
# (1) Keras's routing, through a model with every kind of variable.


def _routing_model():
    keras.utils.set_random_seed(0)
    tokens = keras.Input((8,), dtype="int32")
    # Named layers: both models get the same variable paths.
    x = keras.layers.Embedding(20, 6, name="token_embedding")(tokens)
    x = keras.layers.Reshape((4, 2, 6), name="grid")(x)
    x = keras.layers.Conv2D(
        3, 2, padding="same", activation="tanh", name="conv"
    )(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(5, activation="tanh", name="hidden")(x)
    out = keras.layers.Dense(1, name="last")(x)
    return keras.Model(tokens, out)


def _train(opt, densify, jit_compile, steps=12):
    model = _routing_model()
    opt.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, (steps, 4, 8)).astype("int32")
    y = rng.standard_normal((steps, 4, 1)).astype("float32")

    @tf.function(jit_compile=jit_compile)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(xb) - yb) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        if densify:  # Keras squares repeated sparse rows separately
            grads = [tf.convert_to_tensor(g) for g in grads]
        opt.apply_gradients(zip(grads, model.trainable_variables))

    for i in range(steps):
        step(x[i], y[i])
    return model


@pytest.mark.parametrize("jit_compile", [False, True])
def test_model_matches_keras_with_default_routing(jit_compile):
    kwargs = dict(learning_rate=0.02, exclude_layers=["last"])
    zoo = Muon(**kwargs)
    ref = keras.optimizers.Muon(**kwargs)
    a = _train(zoo, False, jit_compile)
    b = _train(ref, True, jit_compile)
    assert relative_error(a.get_weights(), b.get_weights()) <= 16 * F32_EPS
    groups = _groups(zoo, a.trainable_variables)
    for group, var in zip(groups, b.trainable_variables):
        want = "adamw" if ref._should_use_adamw(var) else "muon"
        assert group == want, var.path
    assert groups.count("muon") == 1  # hidden/kernel
    zoo_state = keras_parity.slot_values(zoo)
    ref_state = keras_parity.slot_values(ref)
    assert sorted(zoo_state) == sorted(ref_state)
    assert zoo.state_bytes() == pytest.approx(
        sum(np.prod(v.shape) for v in ref_state.values())
        * 4
        / sum(np.prod(v.shape) for v in b.trainable_variables)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        # Options the parity variants leave at their defaults.
        {"muon_a": 1.5, "muon_b": -0.5, "muon_c": 0.0, "ns_steps": 3},
        {"ns_steps": 0, "rms_rate": None, "weight_decay": None},
        {"adam_weight_decay": None, "exclude_layers": ["w1", "w2"]},
    ],
)
def test_matches_keras_with_fixed_options(kwargs):
    assert keras_parity.compare("zoo_muon", kwargs, "uncompiled", 30) == 0.0
    # Absolute, on weights of size ~3.
    assert keras_parity.compare("zoo_muon", kwargs, "xla", 30) <= 2e-6


# ----------------------------------------------------------------------
# (2) Convolution kernels orthogonalised as matrices.


def _numpy_newton_schulz(x, steps=5, a=3.4445, b=-4.7750, c=2.0315):
    x = np.asarray(x, np.float64)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


@pytest.mark.parametrize("shape", [(3, 3, 2, 4), (5, 3, 6), (2, 2, 2, 3, 4)])
def test_convolution_kernel_is_orthogonalised_as_a_matrix(shape):
    rng = np.random.default_rng(0)
    init = rng.standard_normal(shape).astype("float32")
    grad = rng.standard_normal(shape).astype("float32")
    opt = Muon(
        learning_rate=1.0,
        orthogonalize_convolutions=True,
        weight_decay=None,
        rms_rate=None,
    )
    (var,) = _variables([init])
    opt.apply_gradients([(tf.constant(grad), var)])
    assert _groups(opt, [var]) == ["muon"]
    assert list(opt.slot_variables(var)) == ["momentum"]
    rows = int(np.prod(shape[:-1]))
    update = (init - var.numpy()).reshape(rows, shape[-1])
    # From zero momentum with Nesterov: direction 1.95 g (the scale cancels).
    want = _numpy_newton_schulz(grad.reshape(rows, shape[-1]))
    np.testing.assert_allclose(update, want, atol=2e-5)
    singular = np.linalg.svd(update, compute_uv=False)
    assert singular.min() > 0.6 and singular.max() < 1.2, singular


def test_convolution_rms_scaling_uses_the_matrix_dims():
    rng = np.random.default_rng(1)
    shape = (3, 3, 2, 4)
    init = rng.standard_normal(shape).astype("float32")
    grad = rng.standard_normal(shape).astype("float32")
    moves = []
    for rms_rate in (None, 0.2):
        opt = Muon(
            learning_rate=0.1,
            orthogonalize_convolutions=True,
            weight_decay=None,
            rms_rate=rms_rate,
        )
        (var,) = _variables([init])
        opt.apply_gradients([(tf.constant(grad), var)])
        moves.append(init - var.numpy())
    np.testing.assert_allclose(
        moves[1], moves[0] * 0.2 * np.sqrt(18.0), rtol=1e-5, atol=1e-7
    )


def test_convolutions_go_to_the_fallback_by_default():
    opt = Muon()
    variables = _variables(problem.initial())
    opt.build(variables)
    ranks = [len(v.shape) for v in variables]
    assert _groups(opt, variables) == [
        "muon" if r == 2 else "adamw" for r in ranks
    ]
    on = Muon(orthogonalize_convolutions=True)
    on.build(variables)
    assert _groups(on, variables)[0] == "muon"
    assert "velocity" not in on.slot_variables(variables[0])


# ----------------------------------------------------------------------
# (3) The fallback optimizer.


def _run(opt, steps=20, shapes=problem.SHAPES):
    variables = _variables(problem.initial(shapes=shapes))
    for g in problem.gradients(steps, shapes=shapes):
        opt.apply_gradients(zip([tf.constant(x) for x in g], variables))
    return [v.numpy() for v in variables]


@pytest.mark.parametrize("fallback", ["adamw", "lion"])
def test_fallback_is_the_named_keras_optimizer(fallback):
    lr, wd = 0.01, 0.05
    zoo = Muon(learning_rate=lr, adam_weight_decay=wd, fallback=fallback)
    if fallback == "lion":
        ref = keras.optimizers.Lion(
            learning_rate=lr, beta_1=0.9, beta_2=0.99, weight_decay=wd
        )
    else:
        ref = keras.optimizers.AdamW(
            learning_rate=lr, beta_1=0.9, beta_2=0.999, weight_decay=wd
        )
    fallback_shapes = [s for s in problem.SHAPES if len(s) != 2]
    a = _run(zoo, shapes=fallback_shapes)
    b = _run(ref, shapes=fallback_shapes)
    assert relative_error(a, b) <= 4 * F32_EPS


def test_fallback_changes_only_the_routed_variables():
    adamw = Muon(learning_rate=0.01)
    lion = Muon(learning_rate=0.01, fallback="lion")
    a, b = _run(adamw), _run(lion)
    for shape, x, y in zip(problem.SHAPES, a, b):
        if len(shape) == 2:
            np.testing.assert_array_equal(x, y)
        else:
            assert np.max(np.abs(x - y)) > 1e-4
    # Lion keeps no velocity: 4 bytes per parameter everywhere.
    assert lion.state_bytes() == 4.0
    assert not any("velocity" in v.name for v in lion.variables)
    assert adamw.state_bytes() > 4.0


def test_lion_moves_by_the_fallback_learning_rate():
    opt = Muon(
        learning_rate=0.1,
        fallback="lion",
        adam_lr_ratio=0.3,
        adam_weight_decay=None,
    )
    (var,) = _variables([np.zeros(4, "float32")])
    opt.apply_gradients([(tf.constant([1.0, -2.0, 0.5, -0.1]), var)])
    np.testing.assert_allclose(
        var.numpy(), [-0.03, 0.03, -0.03, 0.03], rtol=1e-6
    )


def test_weight_decay_split_between_the_groups():
    # weight_decay for the Muon matrices, adam_weight_decay for the rest;
    # the fallback's decay uses the full learning rate, as in Keras.
    init = [np.ones((3, 4), "float32"), np.ones(4, "float32")]
    zero = [np.zeros((3, 4), "float32"), np.zeros(4, "float32")]
    opt = Muon(
        learning_rate=0.5,
        weight_decay=0.1,
        adam_weight_decay=0.02,
        adam_lr_ratio=0.0,
    )
    variables = _variables(init)
    opt.apply_gradients(zip(zero, variables))
    np.testing.assert_allclose(variables[0].numpy(), 0.95, rtol=1e-6)
    np.testing.assert_allclose(variables[1].numpy(), 0.99, rtol=1e-6)
    excluded = Muon(learning_rate=0.5, adam_weight_decay=0.02)
    variables = _variables(init)
    excluded.exclude_from_weight_decay(var_names=["w1"])
    excluded.apply_gradients(zip(zero, variables))
    assert _groups(excluded, variables) == ["muon", "adamw"]
    np.testing.assert_array_equal(variables[1].numpy(), 1.0)


# ----------------------------------------------------------------------
# (4) exclude_layers: literal substrings or globs, never regexes.


def test_exclude_layers_matching():
    path = "model/dense_out/kernel"
    assert matches_layer("dense_out", path)
    assert matches_layer("*dense_out*", path)
    assert matches_layer("model/dense_*/kernel", path)
    assert not matches_layer("dense_out*", path)  # a glob: whole path
    assert not matches_layer("Dense_out", path)  # case-sensitive
    assert not matches_layer("dense.out", path)  # '.' is literal


@pytest.mark.parametrize(
    "pattern", ["^dense", "out$", "dense.*out", "a|b", "(x)", "d+", "\\w", ""]
)
def test_exclude_layers_rejects_regex_syntax(pattern):
    with pytest.raises(ValueError, match="`exclude_layers`.*not regular"):
        Muon(exclude_layers=["dense", pattern])


def test_exclude_layers_routing():
    init = [np.ones((3, 4), "float32")] * 4
    names = ["hidden_kernel", "last_kernel", "Token_Embedding", "head_q"]
    variables = _variables(init, names)
    opt = Muon(exclude_layers=["last", "head_?"])
    opt.build(variables)
    assert _groups(opt, variables) == ["muon", "adamw", "adamw", "adamw"]
    keep = Muon(exclude_embeddings=False)
    keep.build(variables)
    assert _groups(keep, variables) == ["muon"] * 4
    assert Muon(exclude_layers=None).get_config()["exclude_layers"] is None
    with pytest.raises(ValueError, match="Cannot change `exclude_layers`"):
        opt.exclude_layers = ["other"]


# ----------------------------------------------------------------------
# keras/src/optimizers/muon_test.py's values, with this class.


def test_keras_muon_test_values():
    opt = Muon()
    out = opt.zeropower_via_newtonschulz5(
        np.array([[0.2499, 0.9105], [0.2655, 0.8824]], "float32"), 5
    )
    np.testing.assert_allclose(
        out, [[-0.4422, 0.6457], [0.7285, 0.2968]], atol=1e-3
    )
    x = np.ones((4, 2), "float32")
    np.testing.assert_allclose(Muon(rms_rate=0.2).lr_adjust(x), x * 0.4)
    np.testing.assert_array_equal(Muon(rms_rate=None).lr_adjust(x), x)
    assert opt._should_use_adamw(keras.Variable(np.ones(3, "float32")))

    opt = Muon(learning_rate=0.5, weight_decay=0)
    var = keras.Variable([[1.0, 2.0], [3.0, 4.0]])
    opt.build([var])
    opt.update_step(tf.constant([[1.0, 6.0], [7.0, 2.0]]), var, 0.5)
    np.testing.assert_allclose(
        var.numpy(), [[0.988775, 1.887053], [2.873428, 3.97035]], atol=1e-2
    )
    # Keras's AdamW single step, without the fallback's decay (Keras
    # applies it outside `update_step`, the zoo inside).
    opt = Muon(adam_weight_decay=None)
    var = keras.Variable([1.0, 2.0, 3.0, 4.0])
    opt.build([var])
    opt.update_step(tf.constant([1.0, 6.0, 7.0, 2.0]), var, 0.5)
    np.testing.assert_allclose(var.numpy(), [0.5, 1.5, 2.5, 3.5], atol=1e-4)
