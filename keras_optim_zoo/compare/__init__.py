"""Side-by-side optimizer comparisons and pictures.

- `runner`: `python -m keras_optim_zoo compare` (training runs, tables).
- `plots`: the comparison's PNG (imports matplotlib; import it yourself).
- `paths`: optimizer paths on 2-D surfaces and schedule plots
  (`python -m keras_optim_zoo paths` and `plot-schedule`; imports
  matplotlib).
"""

from keras_optim_zoo.compare.runner import (
    MODELS,
    StepRecorder,
    compare,
    describe,
    format_table,
    parse_config,
    parse_schedule,
    split_arguments,
)

__all__ = [
    "MODELS",
    "StepRecorder",
    "compare",
    "describe",
    "format_table",
    "parse_config",
    "parse_schedule",
    "split_arguments",
]
