"""Optimizer step time on a ResNet-50-shaped parameter set, every optimizer.

Times every registered zoo optimizer, and the Keras built-in where one
computes the same algorithm, in three modes: eager `apply_gradients`,
inside `tf.function`, and inside `tf.function(jit_compile=True)`; plus the
first call (tracing and compilation); plus, measured in the same run, the
memory-bandwidth limit of each: the bytes a step must move (parameter and
gradient read, parameter written, each slot read and written) divided by a
measured in-place streaming bandwidth; for rules that declare matrix work
(`matrix_flops`: SOAP's contractions) the larger of that and their
floating-point operations at a measured matmul rate. For optimizers with
undeclared matrix work (Muon's Newton-Schulz iterations) the limit is a
floor, not a target.

One optimizer at a time, its configurations (zoo and Keras, three modes)
are kept alive and timed round-robin, so that a noisy neighbour slows them
alike; the table shows medians.

    python benchmarks/step_time.py [--repeats 7] [--optimizers zoo_adam ...]
        [--modes eager function xla]

A step's time is the median of its samples: for an optimizer with a rare
expensive step (SOAP's refresh every `precondition_frequency` steps) that
is the ordinary step; the samples are in the JSON.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _results import write_result  # noqa: E402 (this folder's)

import keras_optim_zoo  # noqa: E402

# 161 float32 tensors, 27.5 M parameters.
SHAPES = (
    [(3, 3, 256, 256)] * 20
    + [(1, 1, 512, 2048)] * 6
    + [(2048,)] * 100
    + [(1, 1, 1024, 256)] * 35
)
MODES = ("eager", "function", "xla")


def streaming_bandwidth(n=64 * 2**20, repeats=7):
    """Best in-place streaming bandwidth (bytes/s) of numpy and XLA."""
    a = np.ones(n, np.float32)
    b = np.ones(n, np.float32)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.add(a, b, out=a)  # read a, read b, write a
        best = min(best, time.perf_counter() - t)
    numpy_bw = 3 * a.nbytes / best
    var = tf.Variable(tf.ones([n]))
    inc = tf.ones([n])

    @tf.function(jit_compile=True)
    def add():
        var.assign_add(inc)

    add()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        add()
        _ = var[0].numpy()
        best = min(best, time.perf_counter() - t)
    xla_bw = 3 * 4 * n / best
    return max(numpy_bw, xla_bw), {"numpy": numpy_bw, "xla": xla_bw}


def matmul_rate(n=2048, repeats=7):
    """Best float32 matrix-product rate (flop/s) of TensorFlow here."""
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    product = tf.function(lambda: tf.matmul(a, b))
    product().numpy()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        product().numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def make_case(factory, mode, grads, rng):
    variables = [
        tf.Variable(rng.standard_normal(s).astype("float32") * 0.01)
        for s in SHAPES
    ]
    opt = factory()

    def step():
        opt.apply_gradients(zip(grads, variables))

    if mode != "eager":
        opt.build(variables)
        step = tf.function(step, jit_compile=(mode == "xla"))

    def timed():
        t = time.perf_counter()
        step()
        _ = variables[0][0, 0, 0, 0].numpy()  # wait for the update
        return time.perf_counter() - t

    return timed, opt


def keras_factory(name):
    """The Keras twin configured as the zoo's default instance, or None.

    `ZooOptimizer.keras_twin()`: the zoo's defaults, which may differ from
    the Keras class's (`zoo_momentum` defaults to `momentum=0.9`, Keras's
    `SGD` to `0.0`), are passed on, so both compute the same algorithm.
    """
    cls = keras_optim_zoo.core.registry.lookup("optimizer", name)
    if cls.keras_equivalent is None:
        return None
    return lambda: keras_optim_zoo.get(name).keras_twin()


def bytes_per_parameter(optimizer):
    """Bytes a step moves per parameter: p and g read, p written, slots r/w."""
    return 3 * 4 + 2 * optimizer.state_bytes()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--optimizers",
        nargs="*",
        default=None,
        help="zoo names (default: every registered optimizer)",
    )
    parser.add_argument(
        "--out",
        default=os.path.join(
            os.path.dirname(__file__), "results", "step_time.json"
        ),
    )
    parser.add_argument(
        "--modes",
        nargs="*",
        choices=MODES,
        default=list(MODES),
        help="calling modes to time (default: all three)",
    )
    args = parser.parse_args(argv)
    names = args.optimizers or keras_optim_zoo.list_optimizers()

    rng = np.random.default_rng(0)
    grads = [
        tf.constant(rng.standard_normal(s).astype("float32")) for s in SHAPES
    ]
    params = sum(int(np.prod(s)) for s in SHAPES)
    bandwidth, bw_detail = streaming_bandwidth()
    rate = matmul_rate()
    print(
        f"{params / 1e6:.1f} M float32 parameters in {len(SHAPES)} tensors;"
        f" streaming bandwidth {bandwidth / 1e9:.1f} GB/s "
        f"(numpy {bw_detail['numpy'] / 1e9:.1f}, "
        f"XLA {bw_detail['xla'] / 1e9:.1f}); matmul "
        f"{rate / 1e9:.0f} GFLOP/s",
        flush=True,
    )
    header = (
        f"{'optimizer':26} {'mode':9} {'limit ms':>9} {'zoo ms':>8} "
        f"{'keras ms':>9} {'zoo/limit':>9} {'keras/zoo':>9} {'per round':>10} "
        f"{'zoo 1st s':>9} {'keras 1st s':>11}"
    )
    print(header)
    print("-" * len(header), flush=True)
    rows = []
    for name in names:
        rows += _time_one(
            name,
            grads,
            rng,
            params,
            (bandwidth, rate),
            args.repeats,
            args.modes,
        )
    result = {
        "benchmark": "step_time",
        "parameters": params,
        "tensors": len(SHAPES),
        "bandwidth_bytes_per_s": bandwidth,
        "bandwidth_detail": bw_detail,
        "matmul_flops_per_s": rate,
        "rows": rows,
    }
    return write_result(args.out, result)


def _time_one(name, grads, rng, params, rates, repeats, modes=MODES):
    """Rows for one optimizer: its configurations timed round-robin.

    `rates`: `(bandwidth, matmul rate)`. The limit is the larger of the
    bandwidth floor and, for rules with matrix work (`matrix_flops`), the
    compute floor at the matmul rate.
    """
    bandwidth, rate = rates
    compute = None
    impls = {"zoo": lambda: keras_optim_zoo.get(name)}
    twin = keras_factory(name)
    if twin is not None:
        impls["keras"] = twin
    cases, first, limit = {}, {}, None
    for impl, factory in impls.items():
        for mode in modes:
            timed, opt = make_case(factory, mode, grads, rng)
            cases[(impl, mode)] = timed
            first[(impl, mode)] = timed()  # trace + compile + first step
            if impl == "zoo" and limit is None:
                limit = params * bytes_per_parameter(opt) / bandwidth
                flops = sum(
                    opt.matrix_flops(v) for v in opt._trainable_variables
                )
                compute = flops / rate
                limit = max(limit, compute)
    times = {key: [] for key in cases}
    for r in range(repeats):
        for key, timed in cases.items():
            if key == ("keras", "eager") and r >= 3:
                continue  # ~1 s a step; three samples suffice
            times[key].append(timed())
    rows = []
    for mode in modes:
        zoo = statistics.median(times[("zoo", mode)])
        ker = (
            statistics.median(times[("keras", mode)])
            if ("keras", mode) in times
            else None
        )
        # Keras / zoo per round: the two were timed one after the other,
        # so a noisy neighbour slows both alike; the range says how far a
        # single median ratio can be trusted.
        rounds = [
            k / z
            for k, z in zip(
                times.get(("keras", mode), []), times[("zoo", mode)]
            )
        ]
        row = {
            "optimizer": name,
            "mode": mode,
            "limit_ms": limit * 1e3,
            "compute_floor_ms": compute * 1e3,
            "zoo_ms": zoo * 1e3,
            "keras_ms": None if ker is None else ker * 1e3,
            "zoo_over_limit": zoo / limit,
            "keras_over_zoo": None if ker is None else ker / zoo,
            "keras_over_zoo_rounds": rounds,
            "zoo_first_call_s": first[("zoo", mode)],
            "keras_first_call_s": first.get(("keras", mode)),
            "zoo_samples_ms": [t * 1e3 for t in times[("zoo", mode)]],
            "keras_samples_ms": [
                t * 1e3 for t in times.get(("keras", mode), [])
            ],
        }
        rows.append(row)

        def fmt(value, spec):
            return (
                format(value, spec)
                if value is not None
                else "-".rjust(int(spec.split(".")[0]))
            )

        spread = f"{min(rounds):.2f}-{max(rounds):.2f}" if rounds else "-"
        print(
            f"{name:26} {mode:9} {row['limit_ms']:9.1f} "
            f"{row['zoo_ms']:8.1f} {fmt(row['keras_ms'], '9.1f')} "
            f"{row['zoo_over_limit']:9.2f} "
            f"{fmt(row['keras_over_zoo'], '9.2f')} "
            f"{spread:>10} "
            f"{row['zoo_first_call_s']:9.2f} "
            f"{fmt(row['keras_first_call_s'], '11.2f')}",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    main()
