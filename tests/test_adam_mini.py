"""Adam-mini's partition of real Keras layers (the derived suites use bare
variables named `w0, w1, ...`, whose paths match none of the authors'
names). Layers are named: Keras numbers repeated default names."""

import keras
import pytest

import keras_optim_zoo


def _velocity_shapes(optimizer, model):
    optimizer.build(model.trainable_variables)
    return {
        v.path: (
            tuple(optimizer.slot_variables(v)["velocity"].shape),
            optimizer.variable_group(v).role,
            optimizer.variable_group(v).decays,
        )
        for v in model.trainable_variables
    }


def _transformer_block():
    tokens = keras.Input((4,), dtype="int32")
    x = keras.layers.Embedding(10, 8, name="embedding")(tokens)
    x = keras.layers.MultiHeadAttention(
        num_heads=2, key_dim=4, name="multi_head_attention"
    )(x, x)
    x = keras.layers.LayerNormalization(name="layer_normalization")(x)
    x = keras.layers.Dense(6, name="dense")(x)
    x = keras.layers.Dense(8, name="mlp_out")(x)
    return keras.Model(tokens, x)


def test_partition_of_keras_layers():
    got = _velocity_shapes(
        keras_optim_zoo.get("zoo_adam_mini"), _transformer_block()
    )
    assert got == {
        "embedding/embeddings": ((10,), "embedding", True),  # per token
        # (dim, heads, head_dim): one block per head, from the shape.
        "multi_head_attention/query/kernel": ((2,), "heads", True),
        "multi_head_attention/query/bias": ((2, 4), "adam", False),
        "multi_head_attention/key/kernel": ((2,), "heads", True),
        "multi_head_attention/key/bias": ((2, 4), "adam", False),
        # per output neuron (head, head_dim)
        "multi_head_attention/value/kernel": ((2, 4), "value", True),
        "multi_head_attention/value/bias": ((2, 4), "adam", False),
        # "output": per output neuron, the last axis of (heads, head_dim, dim)
        "multi_head_attention/attention_output/kernel": ((8,), "neuron", True),
        "multi_head_attention/attention_output/bias": ((8,), "adam", False),
        "layer_normalization/gamma": ((), "block", False),
        "layer_normalization/beta": ((), "block", False),
        "dense/kernel": ((), "block", True),  # "dense" is in no list
        "dense/bias": ((6,), "adam", False),
        "mlp_out/kernel": ((8,), "neuron", True),  # "mlp": per column
        "mlp_out/bias": ((8,), "adam", False),
    }


def test_rank_2_query_key_split_by_num_heads():
    def model():
        x = keras.Input((8,))
        q = keras.layers.Dense(8, name="q_proj")(x)
        k = keras.layers.Dense(4, name="k_proj")(x)  # grouped-query keys
        return keras.Model(x, [q, k])

    by_heads = _velocity_shapes(
        keras_optim_zoo.get("zoo_adam_mini", num_heads=2), model()
    )
    # The authors' heads of dim * dim / num_heads elements: 4 columns.
    assert by_heads["q_proj/kernel"] == ((2,), "heads", True)
    assert by_heads["k_proj/kernel"] == ((1,), "heads", True)
    per_column = _velocity_shapes(keras_optim_zoo.get("zoo_adam_mini"), model())
    assert per_column["q_proj/kernel"] == ((8,), "neuron", True)
    with pytest.raises(ValueError, match="num_heads=3"):
        keras_optim_zoo.get("zoo_adam_mini", num_heads=3).build(
            model().trainable_variables
        )


def test_name_lists_are_arguments():
    x = keras.Input((3,))
    model = keras.Model(x, keras.layers.Dense(5, name="dense")(x))
    opt = keras_optim_zoo.get(
        "zoo_adam_mini",
        neuron_names=["dense"],
        adam_names=[],
        no_decay_names=[],
    )
    got = _velocity_shapes(opt, model)
    assert got["dense/kernel"] == ((5,), "neuron", True)
    assert got["dense/bias"] == ((), "block", True)
    again = type(opt).from_config(opt.get_config())
    assert again.neuron_names == ["dense"]
