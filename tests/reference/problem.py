"""The fixed test problem shared by every reference check (NumPy only).

Both sides of a comparison see exactly these arrays: the zoo in the tests,
and the reference library (torch.optim, optax, pytorch-optimizer, the
authors' code) in the generator scripts under `generators/`, which run in
a separate environment that has no Keras. Shapes cover a convolution
kernel, 1-D vectors (biases), a matrix, a one-element vector, and repeated
shapes (which share one compiled kernel but must be updated separately).
"""

import numpy as np

SHAPES = [(3, 3, 2, 4), (4,), (5, 7), (1,), (5, 7), (4,)]


def gradients(steps, seed=0, shapes=SHAPES):
    """`steps` lists of float32 gradients, one array per shape."""
    rng = np.random.default_rng(seed)
    return [
        [rng.standard_normal(s).astype("float32") for s in shapes]
        for _ in range(steps)
    ]


def initial(seed=1, shapes=SHAPES):
    """Float32 initial values, one array per shape."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype("float32") for s in shapes]
