"""Writes `schedule_values.json`: learning rates from torch and optax.

The zoo schedules claim to match `torch.optim.lr_scheduler` and optax;
this script records what those libraries compute, so that
`tests/test_schedules.py` can compare without importing them. Neither is a
dependency of the package or of its tests. To regenerate, in a separate
environment (the CPU wheel of torch is enough):

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install torch==2.13.0 optax jax numpy
    /tmp/refenv/bin/python tests/reference/make_schedule_values.py

Each case names the library call, the zoo schedule with the arguments that
should reproduce it (`{"zoo": name, "args": {...}}`, nested the same way),
the steps and the library's values. torch's schedulers are stepped once per
optimizer step, as `OneCycleLR`'s documentation prescribes, and read
before each step, so value `k` is the learning rate of the `k`-th update
(Keras's `iterations == k`). optax runs in float64.
"""

import json
import os
import platform
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import optax  # noqa: E402
import torch  # noqa: E402
from torch.optim import lr_scheduler  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "schedule_values.json")


def zoo(name, **args):
    return {"zoo": name, "args": args}


def torch_case(source, make, n, spec, lr=0.1, optimizer="sgd", key="lr"):
    """Steps a torch scheduler `n` times; records lr (or momentum)."""
    param = torch.nn.Parameter(torch.zeros(1))
    if optimizer == "adam":
        opt = torch.optim.Adam([param], lr=lr)
    else:
        opt = torch.optim.SGD([param], lr=lr, momentum=0.9)
    scheduler = make(opt)
    values = []
    with warnings.catch_warnings():
        # "Detected call of lr_scheduler.step() before optimizer.step()".
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(n):
            group = opt.param_groups[0]
            if key == "momentum":
                values.append(
                    group["betas"][0]
                    if optimizer == "adam"
                    else group["momentum"]
                )
            else:
                values.append(group["lr"])
            opt.step()
            scheduler.step()
    return {
        "library": "torch",
        "source": source,
        "schedule": spec,
        "steps": list(range(n)),
        "values": [float(v) for v in values],
    }


def optax_case(source, schedule, steps, spec):
    values = [float(schedule(np.int64(s))) for s in steps]
    return {
        "library": "optax",
        "source": source,
        "schedule": spec,
        "steps": list(steps),
        "values": values,
    }


def one_cycle(n, kwargs, optimizer="sgd"):
    """OneCycleLR's learning rate and momentum, and the zoo specs."""
    ours = {
        "max_learning_rate": kwargs["max_lr"],
        "total_steps": kwargs["total_steps"],
        "pct_start": kwargs.get("pct_start", 0.3),
        "anneal": kwargs.get("anneal_strategy", "cos"),
        "div_factor": kwargs.get("div_factor", 25.0),
        "final_div_factor": kwargs.get("final_div_factor", 1e4),
        "three_phase": kwargs.get("three_phase", False),
    }
    momentum = {
        "total_steps": ours["total_steps"],
        "base_momentum": kwargs.get("base_momentum", 0.85),
        "max_momentum": kwargs.get("max_momentum", 0.95),
        "pct_start": ours["pct_start"],
        "anneal": ours["anneal"],
        "three_phase": ours["three_phase"],
    }
    text = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    source = f"torch.optim.lr_scheduler.OneCycleLR({optimizer}, {text})"

    def make(opt):
        return lr_scheduler.OneCycleLR(opt, **kwargs)

    return [
        torch_case(
            source, make, n, zoo("zoo_one_cycle", **ours), optimizer=optimizer
        ),
        torch_case(
            source + " momentum",
            make,
            n,
            zoo("zoo_one_cycle_momentum", **momentum),
            optimizer=optimizer,
            key="momentum",
        ),
    ]


def torch_cases():
    cases = []
    cases += one_cycle(100, dict(max_lr=0.5, total_steps=100, pct_start=0.25))
    cases += one_cycle(
        50,
        dict(
            max_lr=0.8,
            total_steps=50,
            pct_start=0.3,
            anneal_strategy="linear",
            div_factor=10.0,
            final_div_factor=100.0,
            three_phase=True,
            base_momentum=0.8,
            max_momentum=0.9,
        ),
    )
    # Fractional phase end (0.29 * 37 - 1 = 9.73), Adam's beta_1.
    cases += one_cycle(
        37, dict(max_lr=1.0, total_steps=37, pct_start=0.29), "adam"
    )
    cases += one_cycle(
        60,
        dict(max_lr=0.3, total_steps=60, pct_start=0.2, three_phase=True),
    )
    cases.append(
        torch_case(
            "torch.optim.lr_scheduler.StepLR(sgd(lr=0.3), step_size=7, "
            "gamma=0.5)",
            lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
            50,
            zoo(
                "zoo_step_decay",
                initial_learning_rate=0.3,
                step_size=7,
                gamma=0.5,
            ),
            lr=0.3,
        )
    )
    for milestones in ([3, 10, 25], [0, 8, 20]):
        cases.append(
            torch_case(
                f"torch.optim.lr_scheduler.MultiStepLR(sgd(lr=0.2), "
                f"milestones={milestones}, gamma=0.3)",
                lambda o, m=milestones: lr_scheduler.MultiStepLR(
                    o, milestones=m, gamma=0.3
                ),
                35,
                zoo(
                    "zoo_multistep",
                    initial_learning_rate=0.2,
                    milestones=milestones,
                    gamma=0.3,
                ),
                lr=0.2,
            )
        )
    cases.append(
        torch_case(
            "torch.optim.lr_scheduler.CosineAnnealingLR(sgd(lr=0.4), T_max=40, "
            "eta_min=0.01) (steps 0..T_max; torch's cosine goes back up after)",
            lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=40, eta_min=0.01),
            41,
            zoo(
                "zoo_cosine",
                initial_learning_rate=0.4,
                decay_steps=40,
                alpha=0.01 / 0.4,
            ),
            lr=0.4,
        )
    )
    cases.append(
        torch_case(
            "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(sgd(lr=0.5), "
            "T_0=10, T_mult=2, eta_min=0.05)",
            lambda o: lr_scheduler.CosineAnnealingWarmRestarts(
                o, T_0=10, T_mult=2, eta_min=0.05
            ),
            160,
            zoo(
                "zoo_sgdr",
                initial_learning_rate=0.5,
                first_decay_steps=10,
                t_mul=2.0,
                alpha=0.05 / 0.5,
            ),
            lr=0.5,
        )
    )
    cases.append(
        torch_case(
            "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(sgd(lr=1.0), "
            "T_0=7, T_mult=1)",
            lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=7),
            400,
            zoo(
                "zoo_sgdr",
                initial_learning_rate=1.0,
                first_decay_steps=7,
                t_mul=1.0,
            ),
            lr=1.0,
        )
    )
    cases.append(
        torch_case(
            "torch.optim.lr_scheduler.CyclicLR(sgd, base_lr=0.01, max_lr=0.1, "
            "step_size_up=5, mode='triangular2', cycle_momentum=False)",
            lambda o: lr_scheduler.CyclicLR(
                o,
                base_lr=0.01,
                max_lr=0.1,
                step_size_up=5,
                mode="triangular2",
                cycle_momentum=False,
            ),
            45,
            zoo(
                "zoo_cyclical",
                initial_learning_rate=0.01,
                maximal_learning_rate=0.1,
                step_size=5,
                mode="triangular2",
            ),
        )
    )
    cases.append(
        torch_case(
            "torch.optim.lr_scheduler.CyclicLR(sgd, base_lr=0.02, max_lr=0.2, "
            "step_size_up=6, mode='exp_range', gamma=0.97, "
            "cycle_momentum=False)",
            lambda o: lr_scheduler.CyclicLR(
                o,
                base_lr=0.02,
                max_lr=0.2,
                step_size_up=6,
                mode="exp_range",
                gamma=0.97,
                cycle_momentum=False,
            ),
            40,
            zoo(
                "zoo_cyclical",
                initial_learning_rate=0.02,
                maximal_learning_rate=0.2,
                step_size=6,
                mode="exp_range",
                gamma=0.97,
            ),
        )
    )
    return cases


def optax_cases():
    cases = []
    for init, peak, warmup, decay, end in (
        (0.01, 0.6, 10, 60, 0.02),
        (0.0, 0.3, 0, 25, 0.0),
    ):
        cases.append(
            optax_case(
                f"optax.warmup_cosine_decay_schedule(init_value={init}, "
                f"peak_value={peak}, warmup_steps={warmup}, "
                f"decay_steps={decay}, end_value={end})",
                optax.warmup_cosine_decay_schedule(
                    init_value=init,
                    peak_value=peak,
                    warmup_steps=warmup,
                    decay_steps=decay,
                    end_value=end,
                ),
                range(decay + 15),
                zoo(
                    "zoo_warmup_cosine",
                    peak_learning_rate=peak,
                    warmup_steps=warmup,
                    decay_steps=decay,
                    init_value=init,
                    end_value=end,
                ),
            )
        )
    cases.append(
        optax_case(
            "optax.linear_schedule(init_value=0.1, end_value=0.9, "
            "transition_steps=20)",
            optax.linear_schedule(0.1, 0.9, 20),
            range(30),
            zoo("zoo_linear", start=0.1, end=0.9, steps=20),
        )
    )
    cases.append(
        optax_case(
            "optax.join_schedules([linear_schedule(0.0, 1.0, 10), "
            "cosine_decay_schedule(1.0, 20, alpha=0.1), "
            "constant_schedule(0.05)], boundaries=[10, 30])",
            optax.join_schedules(
                [
                    optax.linear_schedule(0.0, 1.0, 10),
                    optax.cosine_decay_schedule(1.0, 20, alpha=0.1),
                    optax.constant_schedule(0.05),
                ],
                [10, 30],
            ),
            range(40),
            zoo(
                "zoo_join",
                schedules=[
                    zoo("zoo_linear", start=0.0, end=1.0, steps=10),
                    zoo(
                        "zoo_cosine",
                        initial_learning_rate=1.0,
                        decay_steps=20,
                        alpha=0.1,
                    ),
                    0.05,
                ],
                boundaries=[10, 30],
            ),
        )
    )
    # SGDR with a warm-up in each cycle: first 10 steps, t_mul 2,
    # m_mul 0.5, floor 0.1 (alpha 0.1 of 1.0), 3 warm-up steps.
    floor, cycles = 0.1, []
    for i in range(4):
        cycles.append(
            dict(
                init_value=floor,
                peak_value=floor + (1.0 - floor) * 0.5**i,
                warmup_steps=3,
                decay_steps=10 * 2**i,
                end_value=floor,
            )
        )
    cases.append(
        optax_case(
            f"optax.sgdr_schedule({cycles})",
            optax.sgdr_schedule(cycles),
            range(150),
            zoo(
                "zoo_sgdr",
                initial_learning_rate=1.0,
                first_decay_steps=10,
                t_mul=2.0,
                m_mul=0.5,
                alpha=0.1,
                warmup_steps=3,
            ),
        )
    )
    return cases


def main():
    data = {
        "generated_by": "tests/reference/make_schedule_values.py",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "optax": optax.__version__,
            "jax": jax.__version__,
            "numpy": np.__version__,
        },
        "cases": torch_cases() + optax_cases(),
    }
    with open(OUT, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print(f"wrote {len(data['cases'])} cases to {OUT}")


if __name__ == "__main__":
    main()
