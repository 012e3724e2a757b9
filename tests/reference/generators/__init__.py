"""Scripts that write `tests/reference/trajectories/*.json`.

Each runs in an environment with the reference library installed and no
Keras, from the repository root, e.g.

    python -m tests.reference.generators.torch_family

and records the library versions it used in the files it writes.
"""
