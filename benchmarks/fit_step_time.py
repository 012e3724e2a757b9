"""`model.fit` steady-state time per step: zoo optimizers against Keras's.

On three small models, where the optimizer's per-variable overhead shows:
the MNIST-1D MLP of `make demo` (40-100-100-10, 6 variables), the
784-512-512-10 MLP, and a small CNN with batch normalization (28x28x1,
two conv + BN blocks, 10 trainable variables), each with
`jit_compile=False` and `True`, batch 100, on random data (nothing is
downloaded). Every (model, optimizer, jit) configuration is built once and
kept; rounds of `steps` training steps are then run round-robin, zoo and
Keras one after the other, so that a noisy neighbour slows both alike.
A round's time is the median time between consecutive batch ends (one
whole step: data, forward, backward, update; not `fit`'s start-up). The
table shows the median ms/step over the rounds and Keras / zoo (above
1: the zoo is faster) with its range over the rounds.

    python benchmarks/fit_step_time.py [--rounds 7] [--steps 50]
    python benchmarks/fit_step_time.py --strategy mirrored
    KERAS_BACKEND=torch python benchmarks/fit_step_time.py

`--strategy mirrored` (TensorFlow): the CPU split into two logical devices
and every model built and compiled inside a `tf.distribute.MirroredStrategy`
over them, each replica taking half of the batch of 100 (the zoo's update
there: Keras's per-variable path inside the strategy's update, the rule
op by op; `jit_compile=False` only: Keras's own optimizers fail there with
`True`); results in `results/fit_step_time_mirrored.json`.

On torch only `jit_compile=False` is timed (`True` is `torch.compile`,
which needs a C++ toolchain on CPU), on JAX only `True` (Keras's default
there; `False` runs the step op by op); the results go to
`results/fit_step_time.json` (TensorFlow) or `fit_step_time_<backend>.json`.
"""

import argparse
import contextlib
import functools
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _results import write_result  # noqa: E402 (this folder's)

import keras_optim_zoo  # noqa: E402

BATCH = 100
BACKEND = keras.backend.backend()
JIT = {"tensorflow": (False, True), "torch": (False,), "jax": (True,)}[BACKEND]
PAIRS = ("zoo_adam", "zoo_nesterov", "zoo_adamw")


def mlp(inputs, hidden):
    """`inputs` -> two ReLU layers of `hidden` -> 10 logits."""
    return keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def cnn_bn():
    layers = [keras.Input((28, 28, 1))]
    for filters in (32, 64):
        layers += [
            keras.layers.Conv2D(filters, 3, strides=2, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
        ]
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    return keras.Sequential(layers)


MODELS = {
    "mnist1d_mlp": lambda: mlp(40, 100),
    "mlp_784": lambda: mlp(784, 512),
    "cnn_bn": cnn_bn,
}


def data(model, steps, rng):
    shape = model.input_shape[1:]
    x = rng.standard_normal((steps * BATCH, *shape)).astype("float32")
    y = rng.integers(0, 10, steps * BATCH)
    return x, y


def mirrored():
    """A `MirroredStrategy` over the CPU split in two logical devices
    (before TensorFlow has used it)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    return tf.distribute.MirroredStrategy(
        [d.name for d in tf.config.list_logical_devices("CPU")]
    )


def optimizer(name, twin):
    """The zoo optimizer `name`, or its Keras twin."""
    zoo = keras_optim_zoo.get(name)
    return zoo.keras_twin() if twin else zoo


def configuration(make_model, optimizer, jit, x, y, strategy=None):
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = make_model()
        model.compile(
            optimizer=optimizer(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit,
        )
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # trace, compile
    clock = _BatchClock()

    def timed():
        clock.stamps = []
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[clock],
        )
        # Between consecutive batch ends: one whole step (data, forward,
        # backward, update), without fit's own start-up.
        return statistics.median(np.diff(clock.stamps))

    return timed


class _BatchClock(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.stamps.append(time.perf_counter())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--optimizers", nargs="*", default=list(PAIRS))
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--strategy", choices=["mirrored"])
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.strategy and BACKEND != "tensorflow":
        parser.error("--strategy: TensorFlow's tf.distribute (KERAS_BACKEND)")
    stem = "fit_step_time" + (f"_{args.strategy}" if args.strategy else "")
    if BACKEND != "tensorflow":
        stem += f"_{BACKEND}"
    out = args.out or os.path.join(
        os.path.dirname(__file__), "results", f"{stem}.json"
    )
    strategy = mirrored() if args.strategy else None
    # Under MirroredStrategy on two CPU devices Keras 3.15's fit with
    # jit_compile=True fails for its own optimizers as for the zoo's
    # ("Trying to access resource .../replica_1/... located in device
    # CPU:1 from device CPU:0", XLA's known issue with variables on
    # another device): only False is timed.
    jits = (False,) if strategy else JIT
    rng = np.random.default_rng(0)
    header = (
        f"{'model':12} {'optimizer':14} {'jit':5} {'zoo ms':>8} "
        f"{'keras ms':>9} {'keras/zoo':>9} {'per round':>11}"
    )
    print(header)
    print("-" * len(header), flush=True)
    rows = []
    for model_name in args.models:
        make_model = MODELS[model_name]
        x, y = data(make_model(), args.steps, rng)
        for name in args.optimizers:
            for jit in jits:
                cases = {
                    "zoo": configuration(
                        make_model,
                        functools.partial(optimizer, name, twin=False),
                        jit,
                        x,
                        y,
                        strategy,
                    ),
                    "keras": configuration(
                        make_model,
                        functools.partial(optimizer, name, twin=True),
                        jit,
                        x,
                        y,
                        strategy,
                    ),
                }
                times = {key: [] for key in cases}
                for _ in range(args.rounds):
                    for key, timed in cases.items():
                        times[key].append(timed())
                zoo = statistics.median(times["zoo"])
                ker = statistics.median(times["keras"])
                rounds = [k / z for k, z in zip(times["keras"], times["zoo"])]
                rows.append(
                    {
                        "model": model_name,
                        "optimizer": name,
                        "jit_compile": jit,
                        "zoo_ms": zoo * 1e3,
                        "keras_ms": ker * 1e3,
                        "keras_over_zoo": ker / zoo,
                        "keras_over_zoo_rounds": rounds,
                        "zoo_samples_ms": [t * 1e3 for t in times["zoo"]],
                        "keras_samples_ms": [t * 1e3 for t in times["keras"]],
                    }
                )
                print(
                    f"{model_name:12} {name:14} {str(jit):5} "
                    f"{zoo * 1e3:8.2f} {ker * 1e3:9.2f} {ker / zoo:9.2f} "
                    f"{min(rounds):5.2f}-{max(rounds):4.2f}",
                    flush=True,
                )
    result = {
        "benchmark": "fit_step_time",
        "backend": BACKEND,
        "strategy": args.strategy,
        "batch_size": BATCH,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "rows": rows,
    }
    return write_result(out, result)


if __name__ == "__main__":
    main()
