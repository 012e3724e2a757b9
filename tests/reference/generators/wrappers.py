"""Reference trajectories of the wrappers: `zoo_lookahead` against
`pytorch_optimizer.Lookahead` and `optax.lookahead`,
`zoo_adaptive_gradient_clipping` against optax's `adaptive_grad_clip`,
`zoo_gradient_centralization` against the authors' `centralized_gradient`
(as shipped in Ranger's `ranger2020.py`, which credits
Yonghongwei/Gradient-Centralization) before `torch.optim.SGD`.

Run in the reference environment (torch, optax, pytorch-optimizer; no
Keras), with the path of `ranger2020.py` (see `ranger.py`):

    python -m tests.reference.generators.wrappers path/to/ranger2020.py

A case's `zoo_kwargs` hold the wrapper's arguments and, under
`"optimizer"`, the inner optimizer's registered or Keras name with its
arguments (`tests/test_wrappers.py` builds it).
"""

import sys
from importlib.metadata import version

import numpy as np
import optax
import pytorch_optimizer
import torch

from tests.reference import trajectory_io

CHECKPOINTS = [1, 2, 3, 4, 5, 6, 7, 12, 30, 40]
STEPS = max(CHECKPOINTS)
SCRIPT = "tests/reference/generators/wrappers.py"
TOLERANCE = 5e-7
REASON = (
    "float32 round-off over 40 steps (the references round each step's "
    "products in another order)"
)


def inner(name, **kwargs):
    return {"name": name, "kwargs": kwargs}


def lookahead():
    cases = []
    for name, spec, make, lr, la in [
        (
            "momentum_zoo",
            inner("zoo_momentum", momentum=0.9),
            lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
            0.05,
            {"sync_period": 5, "slow_step_size": 0.5},
        ),
        (
            "momentum_keras",
            inner("sgd", momentum=0.8),
            lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.8),
            0.05,
            {"sync_period": 3, "slow_step_size": 0.7},
        ),
        (
            "radam_zoo",
            inner("zoo_radam", epsilon=1e-8, beta_1=0.9, beta_2=0.99),
            lambda p, lr: torch.optim.RAdam(
                p, lr=lr, betas=(0.9, 0.99), eps=1e-8
            ),
            0.01,
            {"sync_period": 6, "slow_step_size": 0.5},
        ),
    ]:
        got = trajectory_io.torch_trajectory(
            lambda params, make=make, lr=lr, la=la: pytorch_optimizer.Lookahead(
                make(params, lr),
                k=la["sync_period"],
                alpha=la["slow_step_size"],
            ),
            STEPS,
        )
        cases.append(
            trajectory_io.case(
                name, {**la, "optimizer": spec}, lr, got, CHECKPOINTS
            )
        )
    # optax's lookahead (its parameters are the fast and slow pair; the
    # fast ones are the weights trained, and stored here).
    for name, spec, tx, lr, la in [
        (
            "optax_momentum",
            inner("zoo_momentum", momentum=0.9),
            lambda lr: optax.sgd(lr, momentum=0.9),
            0.05,
            {"sync_period": 4, "slow_step_size": 0.6},
        ),
        (
            "optax_adam",
            inner("zoo_adam", beta_2=0.99, epsilon=1e-8),
            lambda lr: optax.adam(lr, b2=0.99, eps=1e-8),
            0.01,
            {"sync_period": 5, "slow_step_size": 0.5},
        ),
    ]:
        got = _optax_lookahead(
            optax.lookahead(tx(lr), la["sync_period"], la["slow_step_size"])
        )
        cases.append(
            trajectory_io.case(
                name, {**la, "optimizer": spec}, lr, got, CHECKPOINTS
            )
        )
    trajectory_io.write(
        "zoo_lookahead",
        f"pytorch_optimizer.Lookahead {version('pytorch-optimizer')}; "
        f"optax.lookahead {version('optax')} (the optax_* cases)",
        cases,
        script=SCRIPT,
        versions={
            "torch": version("torch"),
            "pytorch-optimizer": version("pytorch-optimizer"),
            "optax": version("optax"),
            "jax": version("jax"),
        },
        tolerance=TOLERANCE,
        tolerance_reason=REASON,
    )


def _optax_lookahead(tx):
    """The fast weights of `optax.lookahead` on `problem.gradients`."""
    import jax.numpy as jnp

    from tests.reference import problem

    params = optax.LookaheadParams.init_synced(
        [jnp.asarray(x) for x in problem.initial(1)]
    )
    state = tx.init(params)
    out = {0: [np.asarray(p) for p in params.fast]}
    for step, grads in enumerate(problem.gradients(STEPS, 0), start=1):
        updates, state = tx.update(
            [jnp.asarray(g) for g in grads], state, params
        )
        params = optax.apply_updates(params, updates)
        out[step] = [np.asarray(p) for p in params.fast]
    return out


def agc():
    cases = []
    for name, clipping, eps, lr in [
        ("defaults", 0.01, 1e-3, 0.1),
        ("loose", 0.3, 1e-2, 0.05),
    ]:
        tx = optax.chain(optax.adaptive_grad_clip(clipping, eps), optax.sgd(lr))
        got = trajectory_io.optax_trajectory(tx, STEPS)
        kwargs = {"optimizer": inner("zoo_sgd")}
        if (clipping, eps) != (0.01, 1e-3):
            kwargs.update(clipping=clipping, epsilon=eps)
        cases.append(trajectory_io.case(name, kwargs, lr, got, CHECKPOINTS))
    trajectory_io.write(
        "zoo_adaptive_gradient_clipping",
        f"optax.adaptive_grad_clip {version('optax')}",
        cases,
        script=SCRIPT,
        versions={"optax": version("optax"), "jax": version("jax")},
        tolerance=TOLERANCE,
        tolerance_reason=REASON,
    )


def gc(path):
    namespace = {"__name__": "ranger2020"}
    exec(compile(open(path).read(), path, "exec"), namespace)
    centralized = namespace["centralized_gradient"]

    class CentralizedSGD(torch.optim.SGD):
        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    centralized(p.grad, gc_conv_only=self.conv_only)
            return super().step()

    cases = []
    for name, conv_only, momentum, lr in [
        ("all_weights", False, 0.9, 0.05),
        ("conv_only", True, 0.0, 0.1),
    ]:

        def make(params, conv_only=conv_only, momentum=momentum, lr=lr):
            opt = CentralizedSGD(params, lr=lr, momentum=momentum)
            opt.conv_only = conv_only
            return opt

        got = trajectory_io.torch_trajectory(make, STEPS, output_first=True)
        kwargs = {"optimizer": inner("zoo_sgd", momentum=momentum)}
        if conv_only:
            kwargs["conv_only"] = True
        cases.append(trajectory_io.case(name, kwargs, lr, got, CHECKPOINTS))
    trajectory_io.write(
        "zoo_gradient_centralization",
        "centralized_gradient of ranger2020.py (c82a304) + torch.optim.SGD",
        cases,
        script=SCRIPT,
        versions={"torch": version("torch")},
        tolerance=TOLERANCE,
        tolerance_reason=REASON,
    )


if __name__ == "__main__":
    np.seterr(all="raise")
    lookahead()
    agc()
    gc(sys.argv[1])
