"""Optimizer step time on JAX and torch: the zoo, Keras, optax, torch.optim.

On the ResNet-50-shaped parameter set of `step_time.py` (161 float32
tensors, 27.5 M parameters), for Adam, AdamW and SGD with momentum:

- JAX: the zoo's and Keras's step as `stateless_apply` inside `jax.jit`
  with the weights and optimizer state donated (as Keras's JAX trainer
  runs it), and optax's (`tx.update` + `optax.apply_updates`, `jax.jit`
  with donation) where optax is installed;
- torch: the zoo's and Keras's `apply_gradients` (Keras's torch trainer
  calls it eagerly; Keras's built-ins take its `torch._foreach_*` path),
  the zoo with its multi-tensor path off ("zoo per-variable"), and
  `torch.optim` with `foreach=True` and with `fused=True`.

Each row: the median step time, its ratio to the memory-bandwidth limit
(the bytes a step must move: weights and gradients read, weights written,
each slot read and written, over the in-place streaming bandwidth measured
with the backend's own op in the same run), and the first call (tracing
and compilation on JAX). Configurations are timed round-robin so that a
noisy neighbour slows them alike.

    KERAS_BACKEND=jax python benchmarks/backend_step_time.py
    KERAS_BACKEND=torch python benchmarks/backend_step_time.py
        [--repeats 7] [--steps 3] [--optimizers adam adamw momentum]
        [--set resnet50|small]

`--set small` times 250 small tensors instead (200 of 256 values, 50 of
64x64: 256 K parameters), where each variable's launches, not its bytes,
set the step time; its JSON is `step_time_<backend>_small.json`.
"""

import argparse
import os
import statistics
import time

import keras
import numpy as np
from _results import write_result  # (this folder's)

import keras_optim_zoo

BACKEND = keras.backend.backend()
SHAPES = (
    [(3, 3, 256, 256)] * 20
    + [(1, 1, 512, 2048)] * 6
    + [(2048,)] * 100
    + [(1, 1, 1024, 256)] * 35
)
# `--set small`: many small variables (biases, norms, small matrices),
# where the cost per variable (a launch per operation) dominates.
SMALL_SHAPES = [(256,)] * 200 + [(64, 64)] * 50
LR = 1e-3
# zoo name, Keras class and arguments, slots per parameter.
OPTIMIZERS = {
    "adam": ("zoo_adam", "Adam", {}, 2),
    "adamw": ("zoo_adamw", "AdamW", {"weight_decay": 0.004}, 2),
    "momentum": ("zoo_momentum", "SGD", {"momentum": 0.9}, 1),
}


def _zoo_and_keras(key, make_case, init, grads):
    """The "zoo" and "keras" cases of `key`, each made by `make_case`."""
    zoo_name, keras_name, kwargs, _ = OPTIMIZERS[key]
    return {
        "zoo": lambda: make_case(
            keras_optim_zoo.get(zoo_name, learning_rate=LR, **kwargs),
            init,
            grads,
        ),
        "keras": lambda: make_case(
            getattr(keras.optimizers, keras_name)(learning_rate=LR, **kwargs),
            init,
            grads,
        ),
    }


def _initial(rng, shapes):
    return [rng.standard_normal(s).astype("float32") * 0.01 for s in shapes]


# ----------------------------------------------------------------------
# JAX


def _jax_sync(tree):
    import jax

    jax.block_until_ready(tree)


def jax_bandwidth(n=64 * 2**20, repeats=7):
    import jax
    import jax.numpy as jnp

    add = jax.jit(lambda a, b: a + b, donate_argnums=0)
    a, b = jnp.ones(n), jnp.ones(n)
    a = add(a, b)
    _jax_sync(a)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a = add(a, b)
        _jax_sync(a)
        best = min(best, time.perf_counter() - t)
    return 3 * 4 * n / best


def jax_keras_case(optimizer, init, grads):
    """`step()` of a Keras optimizer's `stateless_apply` under `jax.jit`."""

    variables = [keras.Variable(x) for x in init]
    optimizer.build(variables)

    def pure(values, opt_values, grads):
        return optimizer.stateless_apply(opt_values, grads, values)

    return _donating_step(
        pure,
        [v.value for v in variables],
        [v.value for v in optimizer.variables],
        grads,
    )


def _donating_step(pure, params, opt_state, grads):
    """`step()`: `params, opt_state = pure(params, opt_state, grads)`
    under `jax.jit`, both donated, waiting for the result."""
    import jax

    jitted = jax.jit(pure, donate_argnums=(0, 1))
    state = {"params": params, "opt": opt_state}

    def step():
        state["params"], state["opt"] = jitted(
            state["params"], state["opt"], grads
        )
        _jax_sync(state["params"])

    return step


def jax_optax_case(key, init, grads):
    import jax.numpy as jnp
    import optax

    _, _, kwargs, _ = OPTIMIZERS[key]
    tx = {
        "adam": lambda: optax.adam(LR, eps=1e-7),
        "adamw": lambda: optax.adamw(
            LR, eps=1e-7, weight_decay=kwargs.get("weight_decay", 0)
        ),
        "momentum": lambda: optax.sgd(LR, momentum=0.9),
    }[key]()
    params = [jnp.asarray(x) for x in init]

    def pure(params, opt_state, grads):
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return _donating_step(pure, params, tx.init(params), grads)


def jax_cases(key, init, grads_np):
    import jax.numpy as jnp

    grads = [jnp.asarray(g) for g in grads_np]
    cases = _zoo_and_keras(key, jax_keras_case, init, grads)
    try:
        import optax  # noqa: F401

        cases["optax"] = lambda: jax_optax_case(key, init, grads)
    except ModuleNotFoundError:
        print("optax is not installed: no optax rows")
    return cases


# ----------------------------------------------------------------------
# torch


def torch_bandwidth(n=64 * 2**20, repeats=7):
    import torch

    a, b = torch.ones(n), torch.ones(n)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a.add_(b)
        best = min(best, time.perf_counter() - t)
    return 3 * 4 * n / best


def torch_keras_case(optimizer, init, grads):
    variables = [keras.Variable(x) for x in init]

    def step():
        optimizer.apply_gradients(zip(grads, variables))

    return step


def torch_native_case(key, init, grads, flag):
    import torch

    _, _, kwargs, _ = OPTIMIZERS[key]
    params = [torch.nn.Parameter(torch.from_numpy(x.copy())) for x in init]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    options = {flag: True}
    optimizer = {
        "adam": lambda: torch.optim.Adam(params, lr=LR, eps=1e-7, **options),
        "adamw": lambda: torch.optim.AdamW(
            params,
            lr=LR,
            eps=1e-7,
            weight_decay=kwargs["weight_decay"],
            **options,
        ),
        "momentum": lambda: torch.optim.SGD(
            params, lr=LR, momentum=0.9, **options
        ),
    }[key]()

    def step():
        optimizer.step()

    return step


def torch_per_variable_case(key, init, grads):
    """The zoo with its multi-tensor path off: each variable alone."""
    from keras_optim_zoo.core import base

    zoo_name, _, kwargs, _ = OPTIMIZERS[key]
    inner = torch_keras_case(
        keras_optim_zoo.get(zoo_name, learning_rate=LR, **kwargs), init, grads
    )

    def step():
        size, base.MULTI_TENSOR_SIZE = base.MULTI_TENSOR_SIZE, 0
        try:
            inner()
        finally:
            base.MULTI_TENSOR_SIZE = size

    return step


def torch_cases(key, init, grads_np):
    import torch

    grads = [torch.from_numpy(g.copy()) for g in grads_np]
    return {
        **_zoo_and_keras(key, torch_keras_case, init, grads),
        "zoo per-variable": lambda: torch_per_variable_case(key, init, grads),
        "torch.optim foreach": lambda: torch_native_case(
            key, init, grads, "foreach"
        ),
        "torch.optim fused": lambda: torch_native_case(
            key, init, grads, "fused"
        ),
    }


# ----------------------------------------------------------------------


def time_optimizer(key, cases, repeats, steps, limit_s, warmup=2):
    """Rows for one optimizer: first calls, `warmup` untimed steps (on
    JAX the zoo's two steps after the compiling one took 1.8 s and 0.9 s,
    the later ones 0.2-0.45 s, with one compilation: not explained yet),
    then steps round-robin."""
    steppers, first = {}, {}
    for label, make in cases.items():
        t = time.perf_counter()
        step = make()
        step()
        first[label] = time.perf_counter() - t
        for _ in range(warmup):
            step()
        steppers[label] = step
    samples = {label: [] for label in steppers}
    for _ in range(repeats):
        for label, step in steppers.items():
            for _ in range(steps):
                t = time.perf_counter()
                step()
                samples[label].append(time.perf_counter() - t)
    rows = []
    for label in steppers:
        median = statistics.median(samples[label])
        rows.append(
            {
                "optimizer": key,
                "implementation": label,
                "step_s": median,
                "ratio_to_limit": median / limit_s,
                "first_call_s": first[label],
                "samples_s": samples[label],
            }
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument(
        "--optimizers", nargs="+", default=list(OPTIMIZERS), choices=OPTIMIZERS
    )
    parser.add_argument(
        "--set",
        default="resnet50",
        choices=("resnet50", "small"),
        help="the ResNet-50-shaped set, or 250 small tensors (256 K values)",
    )
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    shapes = SHAPES if args.set == "resnet50" else SMALL_SHAPES
    name = f"step_time_{BACKEND}{'' if args.set == 'resnet50' else '_small'}"
    args.out = args.out or os.path.join(
        os.path.dirname(__file__), "results", name + ".json"
    )
    if BACKEND not in ("jax", "torch"):
        parser.error(
            f"KERAS_BACKEND={BACKEND}: this benchmark is for jax and torch "
            "(TensorFlow's is benchmarks/step_time.py)"
        )
    rng = np.random.default_rng(0)
    init = _initial(rng, shapes)
    grads = [rng.standard_normal(s).astype("float32") for s in shapes]
    params = sum(int(np.prod(s)) for s in shapes)
    bandwidth = jax_bandwidth() if BACKEND == "jax" else torch_bandwidth()
    make_cases = jax_cases if BACKEND == "jax" else torch_cases
    print(
        f"{BACKEND}: {len(shapes)} tensors, {params / 1e6:.1f} M parameters; "
        f"streaming bandwidth {bandwidth / 1e9:.1f} GB/s"
    )
    print(
        f"{'optimizer':10} {'implementation':22} {'step ms':>9} "
        f"{'x limit':>8} {'first s':>8}"
    )
    rows = []
    for key in args.optimizers:
        moved = (12 + 8 * OPTIMIZERS[key][3]) * params
        limit_s = moved / bandwidth
        found = time_optimizer(
            key,
            make_cases(key, init, grads),
            args.repeats,
            args.steps,
            limit_s,
        )
        for row in found:
            row["limit_s"] = limit_s
            print(
                f"{key:10} {row['implementation']:22} "
                f"{row['step_s'] * 1e3:9.1f} {row['ratio_to_limit']:8.2f} "
                f"{row['first_call_s']:8.2f}"
            )
        rows += found
    return write_result(
        args.out,
        {
            "backend": BACKEND,
            "parameters": params,
            "set": args.set,
            "tensors": len(shapes),
            "bandwidth_bytes_per_s": bandwidth,
            "repeats": args.repeats,
            "steps_per_repeat": args.steps,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
