"""Optimizer step time on a ResNet-50-shaped parameter set.

Compares zoo optimizers with the Keras built-ins for Adam and Nesterov in
three modes: eager `apply_gradients`, inside `tf.function`, and inside
`tf.function(jit_compile=True)`; plus the first call (tracing and
compilation); plus, measured in the same run, the memory-bandwidth limit
for each algorithm: the bytes a step must move divided by a measured
in-place streaming bandwidth.

All configurations are kept alive and timed round-robin, so that a noisy
neighbour slows them alike; the table shows medians.

    python benchmarks/step_time.py [--repeats 7] [--out FILE]
"""

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_optim_zoo  # noqa: E402

# 161 float32 tensors, 27.5 M parameters.
SHAPES = (
    [(3, 3, 256, 256)] * 20
    + [(1, 1, 512, 2048)] * 6
    + [(2048,)] * 100
    + [(1, 1, 1024, 256)] * 35
)
# Bytes a step must move per parameter (float32): reads and writes of the
# parameter, its gradient and each slot.
ALGORITHMS = {
    # read p, g, m, v; write p, m, v
    "adam": ("zoo_adam", lambda: keras.optimizers.Adam(), 7 * 4),
    # read p, g, m; write p, m
    "nesterov": (
        "zoo_nesterov",
        lambda: keras.optimizers.SGD(momentum=0.9, nesterov=True),
        5 * 4,
    ),
}
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

    return timed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--algorithms", nargs="*", default=list(ALGORITHMS))
    parser.add_argument(
        "--out",
        default=os.path.join(
            os.path.dirname(__file__), "results", "step_time.json"
        ),
    )
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    grads = [
        tf.constant(rng.standard_normal(s).astype("float32")) for s in SHAPES
    ]
    params = sum(int(np.prod(s)) for s in SHAPES)
    bandwidth, bw_detail = streaming_bandwidth()

    cases, first = {}, {}
    for algo in args.algorithms:
        zoo_name, keras_factory, _ = ALGORITHMS[algo]
        for impl, factory in (
            ("zoo", lambda n=zoo_name: keras_optim_zoo.get(n)),
            ("keras", keras_factory),
        ):
            for mode in MODES:
                key = (algo, impl, mode)
                cases[key] = make_case(factory, mode, grads, rng)
                first[key] = cases[key]()  # trace + compile + first step
                print(
                    f"first call {algo:9} {impl:6} {mode:9} "
                    f"{first[key]:7.2f} s",
                    flush=True,
                )
    times = {key: [] for key in cases}
    for r in range(args.repeats):
        for key, timed in cases.items():
            if key[2] == "eager" and key[1] == "keras" and r >= 3:
                continue  # ~1 s a step; three samples suffice
            times[key].append(timed())

    rows = []
    print()
    print(
        f"{params / 1e6:.1f} M float32 parameters in {len(SHAPES)} tensors;"
        f" streaming bandwidth {bandwidth / 1e9:.1f} GB/s "
        f"(numpy {bw_detail['numpy'] / 1e9:.1f}, "
        f"XLA {bw_detail['xla'] / 1e9:.1f})"
    )
    header = (
        f"{'algorithm':9} {'mode':9} {'limit ms':>9} {'zoo ms':>8} "
        f"{'keras ms':>9} {'zoo/limit':>9} {'keras/zoo':>9} "
        f"{'zoo 1st s':>9} {'keras 1st s':>11}"
    )
    print(header)
    print("-" * len(header))
    for algo in args.algorithms:
        limit = params * ALGORITHMS[algo][2] / bandwidth
        for mode in MODES:
            zoo = statistics.median(times[(algo, "zoo", mode)])
            ker = statistics.median(times[(algo, "keras", mode)])
            row = {
                "algorithm": algo,
                "mode": mode,
                "limit_ms": limit * 1e3,
                "zoo_ms": zoo * 1e3,
                "keras_ms": ker * 1e3,
                "zoo_over_limit": zoo / limit,
                "keras_over_zoo": ker / zoo,
                "zoo_first_call_s": first[(algo, "zoo", mode)],
                "keras_first_call_s": first[(algo, "keras", mode)],
                "zoo_samples_ms": [t * 1e3 for t in times[(algo, "zoo", mode)]],
                "keras_samples_ms": [
                    t * 1e3 for t in times[(algo, "keras", mode)]
                ],
            }
            rows.append(row)
            print(
                f"{algo:9} {mode:9} {row['limit_ms']:9.1f} "
                f"{row['zoo_ms']:8.1f} {row['keras_ms']:9.1f} "
                f"{row['zoo_over_limit']:9.2f} {row['keras_over_zoo']:9.1f} "
                f"{row['zoo_first_call_s']:9.2f} "
                f"{row['keras_first_call_s']:11.2f}"
            )
    result = {
        "benchmark": "step_time",
        "parameters": params,
        "tensors": len(SHAPES),
        "bandwidth_bytes_per_s": bandwidth,
        "bandwidth_detail": bw_detail,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
        },
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "keras_optim_zoo": keras_optim_zoo.__version__,
        },
        "rows": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
