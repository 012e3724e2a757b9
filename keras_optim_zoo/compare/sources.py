"""The model and the data of a comparison (or a tuning run), from a spec.

    from keras_optim_zoo.compare import sources

    model = sources.resolve_model("mypkg.models:build")
    data = sources.resolve_data("mypkg.data:load")
    train, val = data

Model specs (`resolve_model`):

- a built-in name: `mlp`, `cnn` (8x8 images), `cnn1d` (MNIST-1D); see
  `keras_optim_zoo.compare.models`;
- `package.module:function` or `path/to/file.py:function`: a callable that
  returns a `keras.Model`, compiled or not; it takes no arguments or
  `(input_shape, num_outputs)`;
- `path/to/model.keras`: a saved model. Each seed re-draws its weights with
  the layers' own initializers (`keras.models.clone_model`), except the
  weights of layers that have no trainable weights (frozen layers,
  `Normalization`'s adapted mean and variance, lookup tables), which are
  copied from the file; `keep_weights=True` starts every run from the
  file's weights instead;
- from Python also the callable itself, a `keras.Model` (treated as a
  saved file), or a `ModelSource`.

Data specs (`resolve_data`):

- a TFDS name (`mnist1d`, `digits8x8` are built offline; `mnist:3.0.1`
  with a version), read with `as_supervised=True`: the `train` split, and
  `test` (else `validation`) as validation data;
- `package.module:function` or `path/to/file.py:function`: a callable
  without arguments returning `(train, val)`, each NumPy arrays `(x, y)`
  or a `tf.data.Dataset` of `(x, y)` pairs, batched or not;
- from Python also `(train, val)` itself, or such a callable.

Normalisation, so that every optimizer sees the same examples in the same
order for a given seed: a batched dataset is unbatched (a dataset is taken
as batched when every component of its elements has an unknown leading
dimension, as `batch()` leaves it; one batched with
`drop_remainder=True` has a known batch dimension and must be unbatched
by its maker); a finite dataset whose split fits in
`MATERIALIZE_LIMIT_BYTES` (2 GiB) is read into NumPy arrays, so the runner
shuffles it by a per-seed permutation exactly as NumPy input; a larger one
stays a dataset, shuffled per epoch through a buffer of `SHUFFLE_BUFFER`
examples with a per-seed seed.

The task, and so the default loss and metrics, follows the labels
(`detect_task`):

- labels of shape `(N, k)`, k > 1, all 0 or 1 (integers or floats):
  one-hot classification if every row sums to 1 (`num_outputs` = k), else
  multi-label;
- other integer (or boolean) labels: classification with class ids (any
  shape, e.g. per-pixel masks), `num_outputs` = largest label + 1 over
  training and validation;
- floating-point labels of one value per example, all 0 or 1: binary
  classification (`num_outputs` = 2);
- other floating-point targets: regression, `num_outputs` = values per
  example.

Loss and metrics, in this order of precedence: the `loss` / `metrics`
options; else the model's own `compile`; else by task: sparse or
categorical cross-entropy and accuracy (binary cross-entropy for a model
with one output on two classes), binary cross-entropy and binary accuracy
(multi-label), mean squared error and mean absolute error (regression).
Cross-entropies named without `from_logits` (the default ones, or
`loss="sparse_categorical_crossentropy"`) infer it from the model's last
layer: `softmax` or `sigmoid` means probabilities, no activation logits;
a last layer without a readable activation is called on two examples,
and outputs that are non-negative and sum to 1 per example are taken as
probabilities.
"""

import dataclasses
import difflib
import importlib
import importlib.util
import inspect
import os
import sys
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_optim_zoo.compare.models import BUILTIN

MATERIALIZE_LIMIT_BYTES = 2 * 1024**3
"""A `tf.data` split up to this size (inputs and labels) is read into NumPy."""

SHUFFLE_BUFFER = 10_000
"""Shuffle buffer (examples) for a split too large to read into NumPy."""

_FILE_SUFFIXES = (".keras", ".h5")
_CROSSENTROPIES = {
    "sparsecategoricalcrossentropy": "SparseCategoricalCrossentropy",
    "categoricalcrossentropy": "CategoricalCrossentropy",
    "binarycrossentropy": "BinaryCrossentropy",
    "categoricalfocalcrossentropy": "CategoricalFocalCrossentropy",
    "binaryfocalcrossentropy": "BinaryFocalCrossentropy",
}
_COMPILE_METRIC_STRINGS = {"accuracy", "acc", "crossentropy", "ce"}


class SourceError(ValueError):
    """A model or data spec that cannot be used; raised before training."""


# --------------------------------------------------------------------------
# `module:function` and `file.py:function`


def is_callable_spec(text):
    """Whether `text` reads as `module:function` or `file.py:function`.

    The part after the last colon must be a (dotted) Python name, so TFDS
    versions (`mnist:3.0.1`) are not callables.
    """
    if not isinstance(text, str):
        return False
    target, sep, name = text.rpartition(":")
    parts = name.split(".")
    return bool(sep and target and all(p.isidentifier() for p in parts))


_FILE_MODULES = {}


def load_callable(spec, what="model"):
    """The callable named by `module:function` or `path/to/file.py:function`.

    A file is imported as a module of its own (its directory is put on
    `sys.path`, as `python file.py` would, so it can import its
    neighbours); `function` may be dotted (`Class.method`).

    Args:
        spec: The spec.
        what: `"model"` or `"data"`, for the messages.

    Raises:
        SourceError: No such module, file or function, or not callable.
    """
    target, _, name = spec.rpartition(":")
    if target.endswith(".py") or os.sep in target or "/" in target:
        module = _import_file(target, spec, what)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as error:
            if error.name and (
                target == error.name or target.startswith(error.name + ".")
            ):
                raise SourceError(
                    f"{what} {spec!r}: no module named {error.name!r} "
                    f"(searched sys.path, which starts {sys.path[:3]}; run "
                    "from the directory that holds it, or set PYTHONPATH)"
                ) from error
            raise SourceError(
                f"{what} {spec!r}: importing {target!r} failed: "
                f"{type(error).__name__}: {error}"
            ) from error
        except Exception as error:
            raise SourceError(
                f"{what} {spec!r}: importing {target!r} failed: "
                f"{type(error).__name__}: {error}"
            ) from error
    obj = module
    for i, part in enumerate(name.split(".")):
        if not hasattr(obj, part):
            where = ".".join([target] + name.split(".")[:i])
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise SourceError(
                f"{what} {spec!r}: {where!r} has no attribute {part!r}.{hint}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise SourceError(
            f"{what} {spec!r}: {name!r} is a {type(obj).__name__}, not a "
            "function"
        )
    return obj


def _import_file(target, spec, what):
    path = os.path.abspath(os.path.expanduser(target))
    if path in _FILE_MODULES:
        return _FILE_MODULES[path]
    if not os.path.isfile(path):
        raise SourceError(f"{what} {spec!r}: no file {path}")
    stem = os.path.splitext(os.path.basename(path))[0]
    module_name = f"_zoo_{what}_{stem}_{abs(hash(path)):x}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(loader_spec)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise SourceError(
            f"{what} {spec!r}: running {path} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    _FILE_MODULES[path] = module
    return module


# --------------------------------------------------------------------------
# Tasks


@dataclasses.dataclass(frozen=True)
class Task:
    """What the labels say about the problem.

    Attributes:
        kind: `"classification"`, `"multilabel"`, `"regression"`, or
            `"structured"` (labels in a dict or list: no defaults, the
            model's compile or the `loss` option decides).
        labels: `"sparse"` (class ids), `"one_hot"`, `"multi_hot"`,
            `"values"` or `"structured"`.
        num_outputs: Classes, labels or target values per example (`None`
            for structured labels).
    """

    kind: str
    labels: str
    num_outputs: int | None

    def describe(self):
        """E.g. `"10-class classification"`, `"regression, 1 target"`."""
        if self.kind == "classification":
            extra = " (one-hot labels)" if self.labels == "one_hot" else ""
            return f"{self.num_outputs}-class classification{extra}"
        if self.kind == "multilabel":
            return f"multi-label classification, {self.num_outputs} labels"
        if self.kind == "regression":
            s = "" if self.num_outputs == 1 else "s"
            return f"regression, {self.num_outputs} target{s}"
        return "structured labels"


def detect_task(y_train, y_val=None):
    """The `Task` of NumPy labels (see the module docstring for the rule).

    Raises:
        SourceError: Labels that are strings, or negative class ids.
    """
    ys = [y for y in (y_train, y_val) if y is not None]
    if any(isinstance(y, (dict, list, tuple)) for y in ys):
        return Task("structured", "structured", None)
    ys = [np.asarray(y) for y in ys]
    y = ys[0]
    if y.dtype.kind in "OSUV":
        raise SourceError(
            f"The labels are {y.dtype} values; map them to integer class "
            "ids (classification) or floats (regression)."
        )
    if y.ndim == 2 and y.shape[1] > 1 and all(_zero_one(a) for a in ys):
        if all(np.all(a.sum(axis=1) == 1) for a in ys):
            return Task("classification", "one_hot", int(y.shape[1]))
        return Task("multilabel", "multi_hot", int(y.shape[1]))
    if y.dtype.kind == "f" and y.ndim <= 2 and y.size // len(y) == 1:
        if all(_zero_one(a) for a in ys):
            return Task("classification", "sparse", 2)
    if y.dtype.kind in "biu":
        low = min(int(a.min()) for a in ys if a.size)
        if low < 0:
            raise SourceError(
                f"The integer labels include {low}: class ids must be "
                "0, 1, ..., classes - 1."
            )
        classes = max(int(a.max()) for a in ys if a.size) + 1
        return Task("classification", "sparse", max(classes, 2))
    return Task("regression", "values", int(np.prod(y.shape[1:], dtype=int)))


def _zero_one(a):
    return a.dtype.kind in "biuf" and bool(np.isin(a, (0, 1)).all())


def metric_direction(name):
    """`"min"` for loss- and error-like metric names, else `"max"`.

    Minimised: names with loss, error, crossentropy, mse, mae, mape,
    msle, hinge, divergence, poisson, cosh, huber. Maximised: the rest
    (accuracy, AUC, precision, recall, F-scores, IoU, R²).
    """
    name = name.lower()
    if name.startswith("val_"):
        name = name[4:]
    lower = (
        "loss",
        "error",
        "crossentropy",
        "mse",
        "mae",
        "mape",
        "msle",
        "hinge",
        "divergence",
        "poisson",
        "cosh",
        "huber",
    )
    return "min" if any(word in name for word in lower) else "max"


# --------------------------------------------------------------------------
# Data


class Data(tuple):
    """`(train, val)` after normalisation, with what the runner needs.

    Unpacks as `train, val = data`; each is NumPy `(x, y)` (x may be a
    dict of arrays for a model with several inputs) or, for a split too
    large for `MATERIALIZE_LIMIT_BYTES`, an unbatched `tf.data.Dataset` of
    `(x, y)`.

    Attributes:
        label: Where the data came from (for messages and titles).
        task: The `Task` detected from the labels.
        num_train, num_val: Examples per split.
        input_shape: The shape of one example's input (a dict of shapes
            for dict inputs).
    """

    def __new__(cls, train, val, *, label, task, num_train, num_val):
        self = super().__new__(cls, (train, val))
        self.label = label
        self.task = task
        self.num_train = num_train
        self.num_val = num_val
        self.input_shape = _input_shape(train)
        return self

    def __reduce__(self):
        meta = {
            "label": self.label,
            "task": self.task,
            "num_train": self.num_train,
            "num_val": self.num_val,
        }
        return (_make_data, (tuple(self), meta))

    @property
    def streaming(self):
        """Whether the training split is a `tf.data.Dataset`."""
        return isinstance(self[0], tf.data.Dataset)

    def sample(self, n=2):
        """The inputs of the first `n` training examples (a batch)."""
        train = self[0]
        if isinstance(train, tf.data.Dataset):
            return next(iter(train.take(n).batch(n).as_numpy_iterator()))[0]
        return keras.tree.map_structure(lambda a: a[:n], train[0])

    def sample_labels(self, n=2):
        """The labels of the first `n` training examples."""
        train = self[0]
        if isinstance(train, tf.data.Dataset):
            return next(iter(train.take(n).batch(n).as_numpy_iterator()))[1]
        return keras.tree.map_structure(lambda a: a[:n], train[1])

    def fit_arguments(self, rng, batch_size):
        """`model.fit` arguments for one epoch in the order `rng` gives.

        NumPy data: the arrays permuted by `rng.permutation`, with
        `batch_size` and `shuffle=False`. A dataset: shuffled through
        `SHUFFLE_BUFFER` with a seed drawn from `rng`, then batched.
        """
        train = self[0]
        if isinstance(train, tf.data.Dataset):
            seed = int(rng.integers(2**31 - 1))
            buffer = max(1, min(self.num_train, SHUFFLE_BUFFER))
            return {
                "x": train.shuffle(
                    buffer, seed=seed, reshuffle_each_iteration=False
                )
                .batch(batch_size)
                .prefetch(tf.data.AUTOTUNE),
                "shuffle": False,
            }
        x, y = train
        perm = rng.permutation(self.num_train)  # the same for every optimizer
        return {
            "x": keras.tree.map_structure(lambda a: a[perm], x),
            "y": keras.tree.map_structure(lambda a: a[perm], y),
            "batch_size": batch_size,
            "shuffle": False,
        }

    def validation_data(self, batch_size):
        """`validation_data` for `model.fit` (a batched dataset if large)."""
        val = self[1]
        if isinstance(val, tf.data.Dataset):
            return val.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        return val

    def describe(self):
        """E.g. `"4000 training and 1000 validation examples; 10-class ..."`."""
        return (
            f"{self.num_train} training and {self.num_val} validation "
            f"examples; {self.task.describe()}"
        )


def _make_data(parts, meta):
    return Data(*parts, **meta)


def _input_shape(split):
    if isinstance(split, tf.data.Dataset):
        spec = split.element_spec[0]
        return keras.tree.map_structure(lambda s: tuple(s.shape), spec)
    return keras.tree.map_structure(lambda a: tuple(a.shape[1:]), split[0])


def resolve_data(spec, data_dir=None, *, train_examples=None):
    """Training and validation data from a spec; a `Data`, `(train, val)`.

    Args:
        spec: A TFDS name, `module:function`, `path/to/file.py:function`,
            a callable returning `(train, val)`, `(train, val)` itself, or
            a `Data`. See the module docstring.
        data_dir: TFDS data directory (TFDS names only). Defaults to
            `TFDS_DATA_DIR`, else `~/tensorflow_datasets`.
        train_examples: Keep only the first N training examples. Defaults
            to all.

    Raises:
        SourceError: A missing module, file or function; a function that
            does not return `(train, val)`; elements that are not `(x, y)`
            pairs; inputs and labels of different lengths; empty or
            infinite splits.
        tensorflow_datasets DatasetNotFoundError: An unknown TFDS name (its
            message lists close names).
        keras_optim_zoo.data.DatasetUnavailableError: A TFDS dataset that
            is neither prepared nor downloadable now.
    """
    if isinstance(spec, Data):
        return _limit(spec, train_examples)
    if isinstance(spec, (tuple, list)):
        return as_data(spec, label="arrays", train_examples=train_examples)
    if callable(spec):
        label = getattr(spec, "__qualname__", None) or repr(spec)
        return _from_function(spec, label, train_examples)
    if not isinstance(spec, str) or not spec.strip():
        raise SourceError(
            f"data: expected a TFDS name, module:function, file.py:function, "
            f"(train, val) or a callable; got {type(spec).__name__}"
        )
    spec = spec.strip()
    if is_callable_spec(spec):
        return _from_function(load_callable(spec, "data"), spec, train_examples)
    return _from_tfds(spec, data_dir, train_examples)


def _from_function(fn, label, train_examples):
    try:
        result = fn()
    except TypeError as error:
        error.add_note(f"while calling data {label!r} with no arguments")
        raise
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise SourceError(
            f"data {label!r} returned {_short(result)}; expected "
            "(train, val), each (x, y) NumPy arrays or a tf.data.Dataset of "
            "(x, y) pairs"
        )
    return as_data(result, label=label, train_examples=train_examples)


def _from_tfds(name, data_dir, train_examples):
    from keras_optim_zoo import data as zoo_data

    builder = zoo_data.prepare(name, data_dir)
    if getattr(builder.info, "supervised_keys", None) is None:
        raise SourceError(
            f"TFDS dataset {name!r} has no supervised (input, label) keys, "
            "so it has no labels to train on; write a data function that "
            "returns (train, val) pairs (module:function)"
        )
    splits = set(builder.info.splits) if builder.info.splits else set()
    if not splits or "test" in splits:
        val_split = "test"
    elif "validation" in splits:
        val_split = "validation"
    else:
        raise SourceError(
            f"TFDS dataset {name!r} has neither a 'test' nor a 'validation' "
            f"split (it has {sorted(splits)}); write a data function"
        )
    train = zoo_data.load(name, "train", data_dir, as_supervised=True)
    val = zoo_data.load(name, val_split, data_dir, as_supervised=True)
    return as_data(
        (train, val),
        label=f"{name} (TFDS train / {val_split})",
        train_examples=train_examples,
    )


def as_data(pair, *, label="data", train_examples=None):
    """Normalises `(train, val)` (NumPy pairs or datasets) into a `Data`.

    Raises:
        SourceError: See `resolve_data`.
    """
    if isinstance(pair, Data):
        return _limit(pair, train_examples)
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise SourceError(
            f"data {label!r}: expected (train, val), got {_short(pair)}"
        )
    train, num_train = _split(pair[0], f"data {label!r}, training split")
    val, num_val = _split(pair[1], f"data {label!r}, validation split")
    if train_examples is not None:
        train, num_train = _take(train, num_train, train_examples)
    shapes = _input_shape(train), _input_shape(val)
    if keras.tree.flatten(shapes[0]) != keras.tree.flatten(shapes[1]):
        raise SourceError(
            f"data {label!r}: training inputs have shape {shapes[0]} per "
            f"example, validation inputs {shapes[1]}"
        )
    task = detect_task(_labels(train), _labels(val))
    return Data(
        train,
        val,
        label=label,
        task=task,
        num_train=num_train,
        num_val=num_val,
    )


def _limit(data, train_examples):
    if train_examples is None:
        return data
    train, n = _take(data[0], data.num_train, train_examples)
    return Data(
        train,
        data[1],
        label=data.label,
        task=data.task,
        num_train=n,
        num_val=data.num_val,
    )


def _take(split, n, keep):
    keep = int(keep)
    if keep <= 0:
        raise SourceError(f"train_examples must be positive, got {keep}")
    if keep >= n:
        return split, n
    if isinstance(split, tf.data.Dataset):
        return split.take(keep), keep  # take keeps the cardinality known
    return keras.tree.map_structure(lambda a: a[:keep], split), keep


def _labels(split):
    if isinstance(split, tf.data.Dataset):
        labels = split.map(lambda x, y: y).batch(4096)
        parts = list(labels.as_numpy_iterator())
        return keras.tree.map_structure(lambda *a: np.concatenate(a), *parts)
    return split[1]


def _split(obj, where):
    """One split as NumPy `(x, y)` or an unbatched dataset; and its size."""
    if isinstance(obj, tf.data.Dataset):
        return _dataset_split(obj, where)
    if isinstance(obj, dict):
        raise SourceError(
            f"{where}: a dict with keys {sorted(obj)}; give an (x, y) pair"
        )
    if not isinstance(obj, (tuple, list)):
        raise SourceError(
            f"{where}: {_short(obj)} has no labels; give (x, y) arrays or "
            "a tf.data.Dataset of (x, y) pairs"
        )
    if len(obj) != 2:
        extra = " (sample weights are not supported)" if len(obj) == 3 else ""
        raise SourceError(
            f"{where}: a {type(obj).__name__} of {len(obj)} items; give an "
            f"(x, y) pair{extra}"
        )
    x, y = (_as_arrays(part) for part in obj)
    sizes = {len(a) for a in keras.tree.flatten(x)}
    label_sizes = {len(a) for a in keras.tree.flatten(y)}
    if len(sizes) != 1 or sizes != label_sizes:
        raise SourceError(
            f"{where}: inputs and labels have different lengths "
            f"(inputs {sorted(sizes)}, labels {sorted(label_sizes)})"
        )
    n = sizes.pop()
    if n == 0:
        raise SourceError(f"{where}: no examples")
    return (x, y), n


def _as_arrays(part):
    if isinstance(part, dict):
        return {key: _as_array(value) for key, value in part.items()}
    return _as_array(part)


def _as_array(value):
    if value is None:
        raise SourceError("labels or inputs are None")
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(value)


def _dataset_split(ds, where):
    spec = ds.element_spec
    if isinstance(spec, dict):
        raise SourceError(
            f"{where}: the dataset's elements are dicts with keys "
            f"{sorted(spec)}, not (x, y) pairs; map them, e.g. "
            "ds.map(lambda d: (d['image'], d['label'])) (TFDS: "
            "as_supervised=True)"
        )
    if not isinstance(spec, tuple):
        raise SourceError(
            f"{where}: the dataset's elements are single tensors "
            f"({spec}): no labels; give a dataset of (x, y) pairs"
        )
    if len(spec) != 2:
        extra = " (sample weights are not supported)" if len(spec) == 3 else ""
        raise SourceError(
            f"{where}: the dataset's elements are tuples of {len(spec)}, not "
            f"(x, y) pairs{extra}"
        )
    odd = [
        type(s).__name__
        for s in tf.nest.flatten(spec)
        if not isinstance(s, tf.TensorSpec)
    ]
    if odd:
        raise SourceError(
            f"{where}: the dataset holds {', '.join(sorted(set(odd)))}; "
            "give dense tensors of one shape (pad them)"
        )
    if ds.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise SourceError(
            f"{where}: the dataset is infinite (repeat()?); give one pass "
            "over the examples, the runner makes the epochs"
        )
    if _looks_batched(spec):
        ds = ds.unbatch()
    arrays = _materialise(ds, where)
    if arrays is not None:
        return _split(arrays, where)
    n = int(ds.reduce(np.int64(0), lambda count, _: count + 1))
    if n == 0:
        raise SourceError(f"{where}: no examples")
    return ds.apply(tf.data.experimental.assert_cardinality(n)), n


def _looks_batched(spec):
    shapes = [s.shape for s in tf.nest.flatten(spec)]
    return all(
        shape.rank is not None and shape.rank >= 1 and shape[0] is None
        for shape in shapes
    )


def _materialise(ds, where, limit=None):
    """NumPy `(x, y)` of a dataset, or `None` past the size limit."""
    limit = MATERIALIZE_LIMIT_BYTES if limit is None else limit
    parts, size = [], 0
    try:
        for batch in ds.batch(1024).as_numpy_iterator():
            size += sum(a.nbytes for a in keras.tree.flatten(batch))
            if size > limit:
                return None
            parts.append(batch)
    except tf.errors.InvalidArgumentError as error:
        raise SourceError(
            f"{where}: its examples cannot be batched together "
            f"({error.message.splitlines()[0]}); return examples of one "
            "shape (pad them), as NumPy arrays or a dataset"
        ) from error
    if not parts:
        raise SourceError(f"{where}: no examples")
    return keras.tree.map_structure(lambda *a: np.concatenate(a), *parts)


# --------------------------------------------------------------------------
# Models


class ModelSource:
    """Builds the model of a run; made by `resolve_model`.

    Attributes:
        label: What `--model` said, e.g. `"mlp"`, `"mypkg.models:build"`,
            `"model.keras (re-initialised per seed)"`.
        keep_weights: Saved models only: start from the saved weights.
        loss, metrics: The options (or `None`).
    """

    def __init__(
        self,
        label,
        *,
        function=None,
        loader=None,
        keep_weights=False,
        loss=None,
        metrics=None,
    ):
        if keep_weights and loader is None:
            raise SourceError(
                f"model {label!r}: keep_weights applies to saved models "
                "(.keras) and keras.Model objects; a function builds new "
                "weights each time"
            )
        self._label = label
        self._function = function
        self._loader = loader
        self.keep_weights = bool(keep_weights)
        self.loss = loss
        self.metrics = None if metrics is None else list(metrics)
        self._arity = _arity(function, label) if function is not None else 0
        self._sample = None
        self._checked = None

    @property
    def label(self):
        if self._loader is None:
            return self._label
        how = (
            "saved weights" if self.keep_weights else "re-initialised per seed"
        )
        return f"{self._label} ({how})"

    def __repr__(self):
        return f"ModelSource({self.label!r})"

    def with_options(self, *, keep_weights=None, loss=None, metrics=None):
        """A copy with the given options replaced (`None`: kept)."""
        other = object.__new__(ModelSource)
        other.__dict__.update(self.__dict__)
        other._checked = None
        if keep_weights is not None:
            other.keep_weights = bool(keep_weights)
        if loss is not None:
            other.loss = loss
        if metrics is not None:
            other.metrics = list(metrics)
        return other

    def build(self, input_shape, num_outputs, seed=None, *, sample=None):
        """A new model (compiled if its source compiles it).

        Args:
            input_shape: Shape of one example's input.
            num_outputs: Classes or targets (passed to functions that take
                `(input_shape, num_outputs)`).
            seed: If given, `keras.utils.set_random_seed(seed)` first, so
                the initial weights depend on the seed only.
            sample: A batch of inputs; an unbuilt model (a subclassed one)
                is called on it, so its weights exist (and are drawn)
                before the optimizer.

        Raises:
            SourceError: The function does not return a `keras.Model`.
        """
        if seed is not None:
            keras.utils.set_random_seed(int(seed))
        self._sample = sample
        if self._loader is not None:
            model = self._loader(self.keep_weights, sample)
        else:
            shape = input_shape
            if not isinstance(shape, dict):
                shape = tuple(shape)
            args = (shape, num_outputs)[: self._arity]
            try:
                model = self._function(*args)
            except Exception as error:
                error.add_note(
                    f"while building the model {self.label!r}"
                    + (
                        f" for input shape {args[0]} and {args[1]} outputs"
                        if args
                        else ""
                    )
                )
                raise
            _check_model(model, self.label)
        if not model.built and sample is not None:
            model(sample, training=False)
        return model

    def compile(self, model, optimizer, task):
        """Compiles `model` with `optimizer`, the loss and the metrics.

        See the module docstring for the precedence (options, the model's
        own compile, defaults by task). The model's own `loss_weights` and
        `weighted_metrics` are kept.

        Raises:
            SourceError: No loss can be chosen (structured labels or
                several outputs without a loss), or an unknown loss or
                metric name.
        """
        own = _own_compile(model)
        if self.loss is not None:
            loss = _resolve_loss(self.loss, model, self._sample)
        elif own.get("loss") is not None:
            loss = own["loss"]  # as the model's author compiled it
        else:
            loss = _default_loss(model, task, self.label, self._sample)
        metrics = self.metrics
        if metrics is None:
            metrics = own.get("metrics")
        if metrics is None:
            metrics = _default_metrics(task)
        model.compile(
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            loss_weights=own.get("loss_weights"),
            weighted_metrics=own.get("weighted_metrics"),
        )
        return model

    def check(self, data):
        """Builds the model once (seed 0) and checks it against `data`.

        Catches, before any training: a function that does not return a
        model; with the default loss, a model whose outputs do not match
        the labels (fewer outputs than classes, the wrong number of
        targets); a loss that cannot be computed on two examples.

        Returns:
            The model's parameter count. (A second check against the same
            `Data` object returns it without building again.)
        """
        if self._checked is not None and self._checked[0] is data:
            return self._checked[1]
        keras.backend.clear_session()
        task = data.task
        model = self.build(
            data.input_shape, task.num_outputs, seed=0, sample=data.sample()
        )
        outputs = model(data.sample(), training=False)
        own = _own_compile(model)
        default_loss = self.loss is None and own.get("loss") is None
        if default_loss and task.kind != "structured":
            _check_outputs(outputs, task, self.label)
        self.compile(model, keras.optimizers.SGD(), task)
        try:
            model.compute_loss(
                x=data.sample(), y=data.sample_labels(), y_pred=outputs
            )
        except Exception as error:
            error.add_note(
                f"while computing the loss of model {self.label!r} on two "
                f"training examples ({task.describe()})"
            )
            raise
        self._checked = (data, int(model.count_params()))
        return self._checked[1]


def _check_model(model, label):
    if isinstance(model, keras.Model):
        return
    kind = type(model)
    hint = ""
    if kind.__module__.startswith(("tf_keras", "tensorflow.python.keras")):
        hint = " (a Keras 2 model: build it with Keras 3, `import keras`)"
    raise SourceError(
        f"model {label!r} returned {_short(model)}, not a keras.Model{hint}; "
        "the function must return a keras.Model (compiled or not)"
    )


def _arity(function, label):
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return 2
    for arity in (2, 0):
        try:
            signature.bind(*range(arity))
            return arity
        except TypeError:
            pass
    raise SourceError(
        f"model {label!r}: the function takes {signature}; it must take no "
        "arguments or (input_shape, num_outputs)"
    )


def _short(obj):
    text = repr(obj)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"a {type(obj).__name__} ({text})"


def resolve_model(spec, *, keep_weights=False, loss=None, metrics=None):
    """A `ModelSource` from a spec (see the module docstring).

    Args:
        spec: A built-in name (`mlp`, `cnn`, `cnn1d`), `module:function`,
            `path/to/file.py:function`, `path/to/model.keras`, a callable,
            a `keras.Model`, or a `ModelSource`.
        keep_weights: Saved models (and `keras.Model`s): start every run
            from their weights instead of re-drawing them per seed.
            Defaults to `False`.
        loss: A loss for every run: a Keras loss name (`"mse"`,
            `"huber"`, `"sparse_categorical_crossentropy"`), a name with
            arguments (`"huber:delta=0.5"`), a config dict, or a loss
            object. Overrides the model's own. Defaults to the model's
            own, else the task's.
        metrics: Metrics for every run (names, configs or objects).
            Defaults to the model's own, else the task's.

    Raises:
        SourceError: An unknown built-in name; a missing module, file or
            function; a `.keras` file that does not load; a bad loss or
            metric name.
    """
    if loss is not None:
        _resolve_loss(loss, None)  # validate now
    if metrics is not None:
        if isinstance(metrics, str):
            metrics = [metrics]
        for metric in metrics:
            _validate_metric(metric)
    options = dict(keep_weights=keep_weights, loss=loss, metrics=metrics)
    if isinstance(spec, ModelSource):
        if not keep_weights and loss is None and metrics is None:
            return spec
        return spec.with_options(
            keep_weights=True if keep_weights else None,
            loss=loss,
            metrics=metrics,
        )
    if isinstance(spec, keras.Model):
        instance = spec
        label = f"keras.Model {spec.name!r}"
        return ModelSource(
            label,
            loader=lambda keep, sample: _reinitialised(instance, keep, sample),
            **options,
        )
    if callable(spec):
        label = getattr(spec, "__qualname__", None) or repr(spec)
        return ModelSource(label, function=spec, **options)
    if not isinstance(spec, str) or not spec.strip():
        raise SourceError(
            "model: expected a built-in name, module:function, "
            f"file.py:function or a .keras file; got {_short(spec)}"
        )
    spec = spec.strip()
    if spec in BUILTIN:
        return ModelSource(spec, function=BUILTIN[spec], **options)
    if spec.lower().endswith(_FILE_SUFFIXES):
        return _file_source(spec, **options)
    if is_callable_spec(spec):
        return ModelSource(
            spec, function=load_callable(spec, "model"), **options
        )
    close = difflib.get_close_matches(spec, list(BUILTIN), n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise SourceError(
        f"Unknown model {spec!r}: use a built-in ({', '.join(BUILTIN)}), "
        "module:function, path/to/file.py:function, or a saved "
        f"path/to/model.keras.{hint}"
    )


def _file_source(path, **options):
    full = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(full):
        raise SourceError(f"model {path!r}: no file {full}")

    def load():
        try:
            with warnings.catch_warnings():
                # The saved optimizer's state: each run has its own.
                warnings.filterwarnings(
                    "ignore", message="Skipping variable loading for optimizer"
                )
                return keras.models.load_model(full)
        except Exception as error:
            raise SourceError(
                f"model {path!r}: keras.models.load_model failed: "
                f"{type(error).__name__}: {error} (custom layers must be "
                "registered, keras.saving.register_keras_serializable, by a "
                "module imported first)"
            ) from error

    _check_model(load(), path)  # fails now, not at the first run
    return ModelSource(
        path,
        loader=lambda keep, sample: (
            load() if keep else _reinitialised(load(), False, sample)
        ),
        **options,
    )


def _reinitialised(model, keep_weights, sample=None):
    """A fresh copy of `model` (compiled as it is), weights re-drawn or kept.

    `keras.models.clone_model` (recursively, into nested models) makes each
    layer anew from its config, so its initializers draw new weights from
    Keras's global seed. A layer with weights but no trainable ones
    (`Normalization`'s adapted mean and variance, lookup tables, frozen
    layers) is state that training does not make: the copy reuses it as
    it is. A subclassed model is re-created from its config, all of its
    weights re-drawn. With `keep_weights` every weight is copied.
    """

    def clone_layer(layer):
        if layer.weights and not layer.trainable_weights:
            return layer  # not trained: kept, state and all
        return layer.__class__.from_config(layer.get_config())

    if _is_graph(model):
        clone = keras.models.clone_model(
            model, clone_function=clone_layer, recursive=True
        )
    else:
        clone = keras.models.clone_model(model)
    if not clone.built and sample is not None:
        clone(sample, training=False)  # a subclassed model
    if keep_weights:
        clone.set_weights(model.get_weights())
    return clone


def _is_graph(model):
    """Sequential or Functional (what `clone_function` supports)."""
    from keras.src.models.functional import Functional

    return isinstance(model, (keras.Sequential, Functional))


def _own_compile(model):
    """The loss, metrics, loss weights, weighted metrics of `model.compile`."""
    if not getattr(model, "compiled", False):
        return {}
    config = model.get_compile_config() or {}
    out = {}
    for key in ("loss", "metrics", "loss_weights", "weighted_metrics"):
        value = config.get(key)
        if value is not None:
            out[key] = _revive(value)
    return out


def _revive(value):
    if isinstance(value, dict) and "class_name" in value:
        return keras.saving.deserialize_keras_object(value)
    if isinstance(value, dict):
        return {k: _revive(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_revive(v) for v in value)
    return value


def _resolve_loss(loss, model, sample=None):
    """A loss object from an option; crossentropies infer `from_logits`."""
    if isinstance(loss, str):
        from keras_optim_zoo.compare.runner import split_arguments

        text = loss.strip()
        if text.startswith("{"):
            import json

            return _resolve_loss(json.loads(text), model, sample)
        name, _, rest = text.partition(":")
        kwargs = split_arguments(rest)
        key = name.replace("_", "").lower()
        if key in _CROSSENTROPIES:
            cls = getattr(keras.losses, _CROSSENTROPIES[key])
            if "from_logits" not in kwargs and model is not None:
                kwargs["from_logits"] = _outputs_logits(model, sample)
            return cls(**kwargs)
        try:
            found = keras.losses.get(name)
        except (ValueError, TypeError) as error:
            raise SourceError(
                f"Unknown loss {name!r} ({error}); use a keras.losses name, "
                "e.g. mse, mae, huber, sparse_categorical_crossentropy"
            ) from None
        if not kwargs:
            return found
        cls = getattr(keras.losses, _camel(name), None)
        if not (isinstance(cls, type) and issubclass(cls, keras.losses.Loss)):
            raise SourceError(
                f"Loss {name!r} takes no arguments by that name; use its "
                f"class name (e.g. Huber:delta=0.5)"
            )
        return cls(**kwargs)
    if isinstance(loss, dict):
        try:
            return keras.losses.get(loss)
        except (ValueError, TypeError) as error:
            raise SourceError(f"Bad loss config {loss}: {error}") from None
    return loss


def _camel(name):
    if any(c.isupper() for c in name):
        return name
    return "".join(part.capitalize() for part in name.split("_"))


def _validate_metric(metric):
    if isinstance(metric, str) and metric.strip() in _COMPILE_METRIC_STRINGS:
        return
    try:
        keras.metrics.get(metric)
    except (ValueError, TypeError) as error:
        raise SourceError(
            f"Unknown metric {metric!r} ({error}); use keras.metrics names, "
            "e.g. accuracy, mae, mse, auc"
        ) from None


def _default_loss(model, task, label, sample=None):
    outputs = getattr(model, "outputs", None)
    if task.kind == "structured" or (outputs and len(outputs) > 1):
        raise SourceError(
            f"model {label!r}: no default loss for "
            + (
                "structured labels"
                if task.kind == "structured"
                else f"a model with {len(outputs)} outputs"
            )
            + "; compile the model with its loss or pass one (--loss)"
        )
    if task.kind == "regression":
        return keras.losses.MeanSquaredError()
    logits = _outputs_logits(model, sample)
    if task.kind == "multilabel":
        return keras.losses.BinaryCrossentropy(from_logits=logits)
    if task.labels == "one_hot":
        return keras.losses.CategoricalCrossentropy(from_logits=logits)
    if _output_units(model) == 1 and task.num_outputs == 2:
        return keras.losses.BinaryCrossentropy(from_logits=logits)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)


def _default_metrics(task):
    if task.kind == "regression":
        return ["mae"]
    if task.kind == "multilabel":
        return ["binary_accuracy"]
    if task.kind == "classification":
        return ["accuracy"]
    return []


def _output_layer(model):
    outputs = getattr(model, "outputs", None)
    if outputs:
        history = getattr(outputs[0], "_keras_history", None)
        if history is not None:
            return history.operation
    layers = getattr(model, "layers", None)
    return layers[-1] if layers else None


def _output_units(model):
    try:
        shape = model.outputs[0].shape
        return shape[-1]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _activation_name(layer):
    if layer is None:
        return None
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    if isinstance(activation, str):
        return activation
    try:
        name = keras.activations.serialize(activation)
    except (ValueError, TypeError):
        name = getattr(activation, "__name__", None)
    if isinstance(name, dict):
        name = name.get("config") or name.get("class_name")
    return name if isinstance(name, str) else None


def _outputs_logits(model, sample=None):
    """Whether the model outputs logits (see the module docstring)."""
    name = _activation_name(_output_layer(model))
    if name in ("softmax", "sigmoid"):
        return False
    if name is not None:  # linear, log_softmax, relu, ...
        return True
    if sample is None:
        return True
    out = keras.tree.flatten(model(sample, training=False))[0]
    out = keras.ops.convert_to_numpy(out)
    probabilities = bool(np.all(out >= 0)) and np.allclose(
        out.sum(axis=-1), 1.0, atol=1e-4
    )
    return not probabilities


def _check_outputs(outputs, task, label):
    flat = keras.tree.flatten(outputs)
    if len(flat) != 1:
        return
    units = flat[0].shape[-1] if len(flat[0].shape) > 1 else 1
    if task.kind == "classification" and task.labels == "sparse":
        if units != 1 and units < task.num_outputs:
            raise SourceError(
                f"model {label!r} outputs {units} values per example, but "
                f"the labels have {task.num_outputs} classes "
                f"(0..{task.num_outputs - 1}); build it with num_outputs "
                "units"
            )
        if units == 1 and task.num_outputs > 2:
            raise SourceError(
                f"model {label!r} has one output, but the labels have "
                f"{task.num_outputs} classes"
            )
    elif task.kind in ("classification", "multilabel", "regression"):
        expected = task.num_outputs
        size = int(np.prod(flat[0].shape[1:], dtype=int))
        if size != expected:
            what = "targets" if task.kind == "regression" else "labels"
            raise SourceError(
                f"model {label!r} outputs {size} values per example, but "
                f"there are {expected} {what} per example"
            )


__all__ = [
    "Data",
    "MATERIALIZE_LIMIT_BYTES",
    "ModelSource",
    "SHUFFLE_BUFFER",
    "SourceError",
    "Task",
    "as_data",
    "detect_task",
    "is_callable_spec",
    "load_callable",
    "metric_direction",
    "resolve_data",
    "resolve_model",
]
