"""Reference trajectories of `zoo_adam_mini`: the authors' `adam-mini`.

The official package (`pip install --no-deps adam-mini`, 1.1.1) routes
torch parameters by name; each case gives the torch parameters names that
select the same roles the zoo's lists select for the Keras variables
`w0, w1, ...`, and converts between the layouts: a torch Linear weight is
`(out, in)`, a Keras kernel `(in, out)`; MultiHeadAttention's query, key
and value kernels `(dim, heads, head_dim)` are torch's `(heads * head_dim,
dim)` projections, its output kernel `(heads, head_dim, dim)` torch's
`(dim, heads * head_dim)`. Run in the reference environment (no Keras):

    python -m tests.reference.generators.adam_mini

It also prints the largest difference of `pytorch_optimizer.AdamMini`
4.1.0 (the 1.0.x partition: embeddings per coordinate, biases one block)
to the authors' trajectories.
"""

import contextlib
import io
from importlib.metadata import version

import numpy as np
import pytorch_optimizer
import torch
from adam_mini import Adam_mini

from tests.reference import problem, trajectory_io

NAME = "zoo_adam_mini"
SCRIPT = "tests/reference/generators/adam_mini.py"
CHECKPOINTS = [1, 2, 10, 30, 40]


def same(x):
    return x, lambda y: y


def transpose(x):
    return x.T, lambda y: y.T


def inputs_first(x):
    # (dim, heads, head_dim) -> torch (heads * head_dim, dim)
    d, h, k = x.shape
    return x.reshape(d, h * k).T, lambda y: y.T.reshape(d, h, k)


def outputs_last(x):
    # (heads, head_dim, dim) -> torch (dim, heads * head_dim)
    h, k, d = x.shape
    return x.reshape(h * k, d).T, lambda y: y.T.reshape(h, k, d)


# Per variable: (shape, torch name, layout conversion).
PLAIN = [
    ((3, 3, 2, 4), "w0", same),
    ((4,), "w1", same),
    ((5, 7), "w2", same),
    ((1,), "w3", same),
    ((5, 7), "w4", same),
    ((4,), "w5", same),
]
ROLES = [
    ((3, 3, 2, 4), "w0", same),  # one block
    ((4,), "w1_bias", same),  # per coordinate, no decay
    ((6, 5), "w2_embed", same),  # per row
    ((4,), "w3_norm", same),  # one block, no decay
    ((5, 7), "w4_mlp", transpose),  # per output column
    ((8, 2, 4), "w5_q_proj", inputs_first),  # per head (axis 1)
    ((8, 8), "w6_k_proj", transpose),  # per head of 4 columns
    ((8, 2, 4), "w7_v_proj", inputs_first),  # per (head, head_dim)
    ((2, 4, 8), "w8_o_proj", outputs_last),  # per output column
    ((1,), "w9", same),  # one block
]
ROLE_LISTS = {
    "adam_names": ["w1"],
    "embedding_names": ["w2"],
    "neuron_names": ["w4", "w8"],
    "query_key_names": ["w5", "w6"],
    "value_names": ["w7"],
    "no_decay_names": ["w1", "w3"],
    "num_heads": 2,
}

# (name, zoo kwargs, authors' kwargs, learning rate, variables)
CASES = [
    ("defaults", {}, {}, 0.01, PLAIN),
    (
        "betas_epsilon_decay",
        {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6, "weight_decay": 0.1},
        {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
        0.02,
        PLAIN,
    ),
    (
        "roles_heads_decay",
        {**ROLE_LISTS, "weight_decay": 0.05, "beta_2": 0.95},
        {"dim": 8, "n_heads": 2, "weight_decay": 0.05, "betas": (0.9, 0.95)},
        0.005,
        ROLES,
    ),
]


def trajectory(make, variables, steps):
    """Keras-layout weights after each step of a torch optimizer."""
    shapes = [s for s, _, _ in variables]
    names = [n for _, n, _ in variables]
    layouts = [f for _, _, f in variables]
    back = []
    params = []
    for x, f in zip(problem.initial(1, shapes), layouts):
        t, inverse = f(x)
        params.append(torch.nn.Parameter(torch.tensor(np.ascontiguousarray(t))))
        back.append(inverse)
    opt = make(list(zip(names, params)))

    def keras_layout():
        return [b(p.detach().numpy().copy()) for b, p in zip(back, params)]

    out = {0: keras_layout()}
    for step, grads in enumerate(problem.gradients(steps, 0, shapes), 1):
        for p, g, f in zip(params, grads, layouts):
            p.grad = torch.tensor(np.ascontiguousarray(f(g)[0]))
        opt.step()
        out[step] = keras_layout()
    return out


def official(kwargs, lr):
    def make(named):
        with contextlib.redirect_stdout(io.StringIO()):  # its notices
            return Adam_mini(named, lr=lr, verbose=False, **kwargs)

    return make


def peer(kwargs, lr):
    kwargs = dict(kwargs)
    dim = kwargs.pop("dim", 2048)
    heads = kwargs.pop("n_heads", 32)

    def make(named):
        module = torch.nn.Module()
        for name, p in named:
            module.register_parameter(name, p)
        return pytorch_optimizer.AdamMini(
            module,
            lr=lr,
            num_embeds=dim,
            num_heads=heads,
            weight_decay=kwargs.pop("weight_decay", 0.0),
            **kwargs,
        )

    return make


def main():
    steps = max(CHECKPOINTS)
    cases = []
    for name, zoo_kwargs, ref_kwargs, lr, variables in CASES:
        traj = trajectory(official(ref_kwargs, lr), variables, steps)
        other = trajectory(peer(ref_kwargs, lr), variables, steps)
        print(
            f"pytorch_optimizer.AdamMini vs adam-mini, {name}: "
            f"{trajectory_io.difference(other, traj, CHECKPOINTS):.2e}"
        )
        cases.append(
            trajectory_io.case(
                name,
                zoo_kwargs,
                lr,
                traj,
                CHECKPOINTS,
                reference_kwargs={
                    **ref_kwargs,
                    "torch_names": [n for _, n, _ in variables],
                },
                shapes=[s for s, _, _ in variables],
            )
        )
    trajectory_io.write(
        NAME,
        "adam-mini 1.1.1 (Adam_mini)",
        cases,
        script=SCRIPT,
        versions={
            "adam-mini": version("adam-mini"),
            "torch": torch.__version__,
            "pytorch_optimizer": version("pytorch_optimizer"),
        },
        tolerance=TOLERANCE,
        tolerance_reason=TOLERANCE_REASON,
    )


TOLERANCE = 1e-6
TOLERANCE_REASON = (
    "float32 round-off over 40 steps: measured at most 4.3e-8 uncompiled; "
    "under XLA 4.6e-7 (roles_heads_decay) and 4.2e-7 (betas_epsilon_decay), "
    "4.3e-8 without weight decay: XLA fuses the decayed weight and the "
    "step, theta * (1 - lr * wd) - u, into one fused multiply-add (checked "
    "at step 1: XLA equals the fused product exactly, op by op the "
    "unfused one), 1 ulp of the weights per step where torch rounds twice"
)


if __name__ == "__main__":
    main()
