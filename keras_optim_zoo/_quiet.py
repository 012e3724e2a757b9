"""A quiet command line: our lines first, not TensorFlow's start-up log.

Importing TensorFlow prints, from C++ straight to file descriptor 2 and
before its logging is set up, absl's "All log messages before
absl::InitializeLog() is called are written to STDERR", the oneDNN,
cudart and CPU-feature notices, and, when the devices are first listed,
"failed call to cuInit" on a machine without a GPU; later come XLA and
tf.data INFO lines, TFDS's progress bars and build messages, and absl and
Keras Python warnings. Quiet mode, the default of
`python -m keras_optim_zoo`:

- sets `TF_CPP_MIN_LOG_LEVEL=3` unless it is already set;
- points file descriptor 2 at a temporary file while TensorFlow is
  imported and its devices listed, then restores it (what was written is
  replayed if the import fails, so a broken installation still explains
  itself);
- sets the `absl` and `tensorflow` Python loggers to ERROR and ignores
  warnings raised in Keras, TensorFlow, absl and TFDS modules;
- turns TFDS progress bars off, and `library_output()` holds back what
  libraries print while data is prepared;
- exports `KERAS_OPTIM_ZOO_QUIET=1`, so worker processes started by a
  command (`tune --workers`) are quiet from their first import too.

`--verbose` (anywhere on the command line), or `KERAS_OPTIM_ZOO_QUIET=0`,
leaves all of it alone.

The start-up part must run before `keras_optim_zoo/__init__.py` imports
Keras, so `__init__.py` calls `on_package_import()` first; it acts only
when the process is `python -m keras_optim_zoo ...` (or the variable is
`1`), never for a library import.
"""

import contextlib
import io
import os
import sys
import tempfile
import warnings

ENV = "KERAS_OPTIM_ZOO_QUIET"
"""`1`: quiet from the first import (inherited by workers); `0`: never."""

_NOISY_MODULES = r"(keras|tensorflow|tensorflow_datasets|absl|tf_keras)(\..*)?$"
_state = {"started": False}


def run_as_command(argv=None):
    """Whether this process is `python -m keras_optim_zoo[.__main__] ...`."""
    argv = list(getattr(sys, "orig_argv", []) if argv is None else argv)
    names = ("keras_optim_zoo", "keras_optim_zoo.__main__")
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m":
            return argv[i + 1] in names
    return any(arg in {f"-m{name}" for name in names} for arg in argv)


def wanted(argv=None):
    """Whether to be quiet: not with `--verbose` in `argv`, nor with
    `KERAS_OPTIM_ZOO_QUIET=0`."""
    argv = sys.argv[1:] if argv is None else argv
    if "--verbose" in argv:
        return False
    return os.environ.get(ENV, "1") != "0"


def on_package_import():
    """Quiet start-up when run as the command; called by `__init__.py`.

    Does nothing for a library import, unless `KERAS_OPTIM_ZOO_QUIET=1`.
    """
    if run_as_command():
        args = list(getattr(sys, "orig_argv", sys.argv))
        if not wanted(args):
            os.environ[ENV] = "0"
            return
    elif os.environ.get(ENV) != "1":
        return
    os.environ[ENV] = "1"  # for the command's worker processes
    start()


def start():
    """The quiet start-up: log level, TensorFlow imported with fd 2 held.

    Idempotent. If TensorFlow is already imported, only the Python-level
    settings apply.
    """
    if not _state["started"] and "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _descriptor_2_held():
            import tensorflow as tf

            tf.config.list_physical_devices()  # cuInit happens here
    _state["started"] = True
    python_level()


def python_level():
    """Loggers at ERROR, library warnings ignored, TFDS bars off."""
    import logging

    for name in ("absl", "tensorflow", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass
    warnings.filterwarnings("ignore", module=_NOISY_MODULES)
    if "tensorflow_datasets" in sys.modules:
        sys.modules["tensorflow_datasets"].disable_progress_bar()


def apply(verbose):
    """What a subcommand calls once its arguments are parsed.

    Quiet (`verbose=False`): `start()` (at this point TensorFlow is
    usually imported already, so the Python-level settings), and TFDS
    progress bars off. Verbose: nothing is changed.
    """
    if verbose:
        return False
    start()
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return True
    tfds.disable_progress_bar()
    return True


@contextlib.contextmanager
def library_output(verbose=False):
    """Holds back what libraries print to `sys.stdout`/`sys.stderr` inside.

    For TFDS's "Downloading and preparing dataset ..." and build messages.
    If the block raises, what was held back is written to stderr first.
    With `verbose`, nothing is held back.
    """
    if verbose:
        yield
        return
    held = io.StringIO()
    ok = False
    try:
        with contextlib.redirect_stdout(held), contextlib.redirect_stderr(held):
            yield
        ok = True
    finally:
        if not ok and held.getvalue():
            sys.stderr.write(held.getvalue())


@contextlib.contextmanager
def _descriptor_2_held():
    """File descriptor 2 to a temporary file inside; replayed on error."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real descriptor 2
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            if not ok:
                held.seek(0)
                os.write(2, held.read())
