"""Side-by-side optimizer comparisons: `python -m keras_optim_zoo compare`."""

from keras_optim_zoo.compare.runner import (
    MODELS,
    compare,
    format_table,
    parse_config,
)

__all__ = ["MODELS", "compare", "format_table", "parse_config"]
