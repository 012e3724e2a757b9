"""`tfds.load` that fails fast offline, and small datasets as arrays.

Offline, a plain `tfds.load("mnist")` retries its downloads for minutes before
it fails. `load` first asks whether the dataset is prepared in the data
directory; if not, it downloads only when the dataset's hosts answer a quick
connection probe, and otherwise raises `DatasetUnavailableError` at once,
with instructions. Datasets the zoo makes locally (`mnist1d`, `digits8x8`)
are built on first use, offline.
"""

import dataclasses
import os
import socket
import threading
import time
import urllib.parse
import urllib.request

import numpy as np
import tensorflow_datasets as tfds

from keras_optim_zoo.data.builders import EmbeddedBuilder

PROBE_TIMEOUT_S = 1.5
"""How long the connection probe waits for the dataset's hosts, in seconds."""

_FALLBACK_HOST = "storage.googleapis.com"  # TFDS's own mirror.


class DatasetUnavailableError(RuntimeError):
    """The dataset is not prepared locally and cannot be downloaded now."""


def default_data_dir(data_dir=None):
    """The data directory `load` uses.

    `data_dir` if given, else the environment variable `TFDS_DATA_DIR`, else
    `~/tensorflow_datasets` (read at call time, unlike TFDS, which reads the
    variable once at import).
    """
    if data_dir is None:
        data_dir = os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return os.path.expanduser(os.fspath(data_dir))


def prepare(
    name,
    data_dir=None,
    *,
    download=None,
    builder_kwargs=None,
    download_and_prepare_kwargs=None,
):
    """Makes sure `name` is prepared in the data directory; returns its builder.

    - Already prepared: nothing is done (no rebuild, no network).
    - A dataset the zoo makes locally (`mnist1d`, `digits8x8`): built now,
      offline, with GCS lookups turned off.
    - Any other dataset: downloaded and prepared by TFDS, if `download`
      allows it (see below); else `DatasetUnavailableError`.

    Under `tfds.testing.mock_data` nothing is prepared: the mock serves the
    data.

    Args:
        name: TFDS name, as `tfds.builder` takes it (`"mnist"`,
            `"mnist:3.0.1"`, `"mnist1d"`).
        data_dir: Data directory. Defaults to `TFDS_DATA_DIR`, else
            `~/tensorflow_datasets` (see `default_data_dir`).
        download: `None` downloads only when the hosts of the dataset's files
            accept a TCP connection within `PROBE_TIMEOUT_S` (behind a proxy
            set in `https_proxy`, the proxy is probed), so an offline machine
            fails at once; `True` skips the probe and lets TFDS try, with its
            own retries; `False` never downloads. Datasets made locally are
            built whatever its value. Defaults to `None`.
        builder_kwargs: Passed to `tfds.builder` (e.g. `config`).
        download_and_prepare_kwargs: Passed to `download_and_prepare`.

    Raises:
        DatasetUnavailableError: The dataset is not prepared and may not or
            cannot be downloaded; the message says how to provide it.
    """
    data_dir = default_data_dir(data_dir)
    builder = tfds.builder(name, data_dir=data_dir, **(builder_kwargs or {}))
    if _tfds_is_mocked() or builder.is_prepared():
        return builder
    kwargs = dict(download_and_prepare_kwargs or {})
    if isinstance(builder, EmbeddedBuilder):
        # Made locally: keep TFDS from looking for a copy on GCS.
        config = kwargs.get("download_config")
        kwargs["download_config"] = dataclasses.replace(
            config or tfds.download.DownloadConfig(), try_download_gcs=False
        )
    elif download is False:
        raise DatasetUnavailableError(
            _unavailable_message(name, builder, "download=False was passed")
        )
    elif download is None:
        unreachable = _unreachable_hosts(_download_hosts(builder))
        if unreachable:
            reason = (
                f"no connection to {', '.join(unreachable)} within "
                f"{PROBE_TIMEOUT_S} s, so no download was attempted"
            )
            raise DatasetUnavailableError(
                _unavailable_message(name, builder, reason)
            )
    builder.download_and_prepare(**kwargs)
    return builder


def load(name, split=None, data_dir=None, *, download=None, **tfds_kwargs):
    """`tfds.load`, failing fast when the data is neither here nor reachable.

    Calls `prepare(name, data_dir, download=download)` and then the real
    `tfds.load(name, split=split, data_dir=..., download=False, ...)`, so a
    prepared data directory is read as TFDS reads it, and under
    `tfds.testing.mock_data` the mock serves the data (without network).

    Args:
        name: TFDS name, e.g. `"mnist"`, `"mnist1d"`, `"digits8x8"`.
        split: Split, as `tfds.load` takes it (`"train"`, `"test[:10%]"`).
            `None` gives a dict of all splits. Defaults to `None`.
        data_dir: Data directory. Defaults to `TFDS_DATA_DIR`, else
            `~/tensorflow_datasets`.
        download: When to download; see `prepare`. Defaults to `None`
            (only when the dataset's hosts answer a quick probe).
        **tfds_kwargs: Other `tfds.load` arguments (`as_supervised`,
            `shuffle_files`, `batch_size`, `builder_kwargs`, ...).

    Raises:
        DatasetUnavailableError: The dataset is not prepared and may not or
            cannot be downloaded; the message says how to provide it.
    """
    data_dir = default_data_dir(data_dir)
    if _tfds_is_mocked():
        return tfds.load(name, split=split, data_dir=data_dir, **tfds_kwargs)
    prepare(
        name,
        data_dir,
        download=download,
        builder_kwargs=tfds_kwargs.get("builder_kwargs"),
        download_and_prepare_kwargs=tfds_kwargs.pop(
            "download_and_prepare_kwargs", None
        ),
    )
    return tfds.load(
        name, split=split, data_dir=data_dir, download=False, **tfds_kwargs
    )


def as_arrays(name, split, data_dir=None, *, batch_size=1024, **load_kwargs):
    """A small dataset's split as NumPy arrays `(x, y)`.

    Reads the supervised pair (`as_supervised=True`) through `load` batch by
    batch and concatenates; it never uses `batch_size=-1`, so it also works
    under `tfds.testing.mock_data`. Meant for datasets that fit in memory.

    Args:
        name: TFDS name with supervised keys, e.g. `"mnist1d"`.
        split: Split, e.g. `"train"` or `"test[:500]"`.
        data_dir: Data directory; see `load`.
        batch_size: Examples read per step. Defaults to `1024`.
        **load_kwargs: Passed to `load` (e.g. `download`).
    """
    ds = load(name, split, data_dir, as_supervised=True, **load_kwargs)
    xs, ys = [], []
    for x, y in ds.batch(batch_size).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError(f"Split {split!r} of {name!r} is empty.")
    return np.concatenate(xs), np.concatenate(ys)


def _tfds_is_mocked():
    """Whether `tfds.testing.mock_data` (or `mock_tfds`) is active."""
    fn = tfds.core.DatasetBuilder.download_and_prepare
    return getattr(fn, "__module__", "").startswith(
        "tensorflow_datasets.testing"
    )


def _download_hosts(builder):
    """The hosts of the files a builder downloads, from its checksums."""
    try:
        urls = builder.url_infos or {}
    except Exception:  # No or unreadable checksums: probe the TFDS mirror.
        urls = {}
    hosts = {urllib.parse.urlsplit(url).hostname for url in urls}
    return sorted(hosts - {None}) or [_FALLBACK_HOST]


def _unreachable_hosts(hosts, timeout=None):
    """The hosts that accept no TCP connection within `timeout` seconds.

    All hosts are probed at once, in daemon threads, so the call returns
    within `timeout` even when a DNS lookup hangs. Defaults to
    `PROBE_TIMEOUT_S`.
    """
    timeout = PROBE_TIMEOUT_S if timeout is None else timeout
    targets = {host: _probe_address(host) for host in hosts}
    answered = set()

    def probe(host, address):
        try:
            with socket.create_connection(address, timeout=timeout):
                answered.add(host)
        except OSError:
            pass

    threads = [
        threading.Thread(target=probe, args=item, daemon=True)
        for item in targets.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [host for host in hosts if host not in answered]


def _probe_address(host):
    """`(host, 443)`, or the HTTPS proxy's address when one applies."""
    proxy = urllib.request.getproxies().get("https")
    if proxy and not urllib.request.proxy_bypass(host):
        parts = urllib.parse.urlsplit(
            proxy if "://" in proxy else f"http://{proxy}"
        )
        if parts.hostname:
            return parts.hostname, parts.port or 80
    return host, 443


def _unavailable_message(name, builder, reason):
    data_dir = builder.data_dir_root
    return (
        f"Dataset {name!r} is not prepared in {data_dir} (no "
        f"{builder.data_path}/dataset_info.json), and {reason}.\n"
        "Provide the data in one of these ways:\n"
        "  - point to a data directory that holds it: pass `--data-dir DIR` "
        "on the command line or `data_dir=DIR` in Python, or set the "
        "environment variable TFDS_DATA_DIR=DIR;\n"
        "  - prepare it on a machine with internet access with "
        f"`tfds build {builder.name} --data_dir DIR`, then copy "
        f"DIR/{builder.name} into {data_dir};\n"
        "  - or, if this machine can reach the download hosts, pass "
        "`download=True` to let TFDS download it."
    )
