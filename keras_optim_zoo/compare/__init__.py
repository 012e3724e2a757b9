"""Side-by-side optimizer comparisons and pictures.

- `runner`: `python -m keras_optim_zoo compare` (training runs, tables);
  `train_run` is one run (one optimizer, one seed), as `tune` uses it.
- `sources`: the model (built-in, `module:function`, `file.py:function`,
  `.keras`) and the data (TFDS, `module:function`, NumPy, `tf.data`).
- `models`: the built-in models (`mlp`, `cnn`, `cnn1d`).
- `plots`: the comparison's PNG (imports matplotlib; import it yourself).
- `paths`: optimizer paths on 2-D surfaces and schedule plots
  (`python -m keras_optim_zoo paths` and `plot-schedule`; imports
  matplotlib).
"""

from keras_optim_zoo._requires import require

require("tensorflow", "keras_optim_zoo.compare", "tensorflow")

from keras_optim_zoo.compare import models, sources
from keras_optim_zoo.compare.runner import (
    MODELS,
    StepRecorder,
    compare,
    describe,
    format_table,
    parse_config,
    parse_schedule,
    split_arguments,
    train_run,
)
from keras_optim_zoo.compare.sources import (
    Data,
    ModelSource,
    SourceError,
    resolve_data,
    resolve_model,
)

__all__ = [
    "MODELS",
    "Data",
    "ModelSource",
    "SourceError",
    "StepRecorder",
    "compare",
    "describe",
    "format_table",
    "models",
    "parse_config",
    "parse_schedule",
    "resolve_data",
    "resolve_model",
    "sources",
    "split_arguments",
    "train_run",
]
