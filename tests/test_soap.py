"""SOAP's preconditioned dimensions and state, as built (no steps: the
stored reference trajectories check the arithmetic, step 1 included)."""

import keras
import numpy as np
import pytest

import keras_optim_zoo
from keras_optim_zoo.optimizers import soap


def _factors(optimizer, variable):
    slots = optimizer.slot_variables(variable)
    return {k: tuple(s.shape) for k, s in slots.items() if k.startswith("gg_")}


@pytest.mark.parametrize(
    "shape, kwargs, expected",
    [
        ((3, 3, 2, 4), {}, [3, 3, 2, 4]),
        ((3, 3, 2, 4), {"max_precond_dim": 3}, [3, 3, 2, None]),
        # (3, 3, 2, 4) -> (3, 6, 4): 3 * 3 > 8, then 3 * 2, then * 4 > 8.
        ((3, 3, 2, 4), {"merge_dims": True, "max_precond_dim": 8}, [3, 6, 4]),
        ((3, 3, 64, 64), {"merge_dims": True}, [576, 64]),
        ((20000, 16), {"merge_dims": True}, [None, 16]),
        ((5,), {}, [None]),
        ((5,), {"precondition_1d": True}, [5]),
        ((5,), {"precondition_1d": True, "max_precond_dim": 4}, [None]),
        ((5,), {"precondition_1d": True, "merge_dims": True}, [5]),
    ],
)
def test_preconditioned_dimensions(shape, kwargs, expected):
    if np.prod(shape) > 1e5:  # the layout only: no variable that large
        layout = soap.layout(
            shape,
            kwargs.get("max_precond_dim", 10000),
            kwargs.get("merge_dims", False),
            False,
        )
        got = [d if p else None for d, p in zip(*layout)]
        assert got == expected
        return
    opt = keras_optim_zoo.get("zoo_soap", **kwargs)
    var = keras.Variable(np.zeros(shape, "float32"))
    opt.build([var])
    assert _factors(opt, var) == {
        f"gg_{i}": (d, d) for i, d in enumerate(expected) if d is not None
    }
    slots = opt.slot_variables(var)
    for i, d in enumerate(expected):
        if d is not None:
            assert tuple(slots[f"q_{i}"].shape) == (d, d)
    assert tuple(slots["momentum"].shape) == shape
    assert slots["step"].dtype == "int32"
    assert opt.state_bytes() == pytest.approx(soap.state_bytes(shape, **kwargs))


def test_merged_shape_is_the_authors():
    assert soap.merged_shape((1, 2, 512, 1, 2048, 1, 3, 4), 1024) == (
        1024,
        2048,
        12,
    )
    assert soap.merged_shape((64, 64, 3, 3), 10000) == (4096, 9)
    assert soap.merged_shape((), 10) == (1,)


def test_matrix_flops_count_the_three_contractions_per_factor():
    # 6 n sum(d_i) over the preconditioned dimensions; an unpreconditioned
    # bias has none. (The step-time benchmark's compute floor.)
    assert soap.step_flops((5, 7)) == 6 * 35 * (5 + 7)
    assert soap.step_flops((3, 3, 2, 4), max_precond_dim=3) == 6 * 72 * 8
    assert soap.step_flops((5,)) == 0
    opt = keras_optim_zoo.get("zoo_soap", merge_dims=True)
    kernel = keras.Variable(np.zeros((3, 3, 64, 64), "float32"))
    opt.build([kernel])
    assert opt.matrix_flops(kernel) == 6 * 36864 * (576 + 64)
    assert keras_optim_zoo.get("zoo_adam").matrix_flops(kernel) == 0
