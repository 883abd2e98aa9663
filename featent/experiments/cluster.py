"""Sweep tasks on a Dask ``distributed`` cluster: which device a worker uses, and the submit loop.

Why its own module: the cluster is one way to run the sweep's tasks (the other is a plain loop),
with concerns of its own: a worker's GPU, lost workers retried, unique task keys per run, and
results kept on the client as they arrive (workers return summaries of a few KB, never births).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

from featent.errors import FeatentError

__all__ = ["worker_device", "run_on_cluster"]

Task = TypeVar("Task")
Result = TypeVar("Result")


def worker_device(requested: str | None) -> str:
    """The device a Dask worker uses: ``requested`` if given, else its own GPU, else the CPU.

    Its own GPU: with ``CUDA_VISIBLE_DEVICES`` set per worker (``LocalCUDACluster``,
    ``dask-cuda-worker``) that is ``cuda:0``; otherwise the worker's number modulo the GPU count.
    ``FEATENT_DEVICE`` overrides both.
    """
    import torch

    if requested is not None:
        return requested
    if os.environ.get("FEATENT_DEVICE"):
        return os.environ["FEATENT_DEVICE"]
    if not torch.cuda.is_available():
        return "cpu"
    if os.environ.get("CUDA_VISIBLE_DEVICES"):
        return "cuda:0"
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return "cuda:0"
    digits = "".join(ch for ch in str(name) if ch.isdigit())
    return f"cuda:{int(digits or 0) % torch.cuda.device_count()}"


def run_on_cluster(work: Callable[[Task], Result], tasks: Sequence[Task], scheduler: object, resources: dict | None,
                   retries: int, keep: Callable[[Result], None], tick: Callable[[], None]) -> None:
    """Submit ``work(task)`` for each task to a distributed cluster (a ``distributed.Client`` or a
    scheduler address); ``keep`` each result as it arrives, then ``tick``. Lost workers are retried."""
    if not tasks:
        return
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - distributed is a runtime dependency
        raise FeatentError("The dask executor needs the 'distributed' package.") from exc
    own = None
    if isinstance(scheduler, Client):
        client = scheduler
    elif isinstance(scheduler, str) and scheduler:
        try:
            client = own = Client(scheduler, timeout=15)
        except OSError as exc:
            raise FeatentError(f"Cannot reach the Dask scheduler at {scheduler!r}: {exc}.") from exc
    else:
        raise FeatentError("The dask executor needs --scheduler ADDRESS (or a distributed.Client).")
    try:
        run = uuid.uuid4().hex[:12]
        futures = [client.submit(work, task, pure=False, retries=retries, resources=resources,
                                 key=f"featent-sweep-{run}-{i}") for i, task in enumerate(tasks)]
        for future in as_completed(futures):
            try:
                keep(future.result())
            except FeatentError:
                raise
            except Exception as exc:
                raise FeatentError(f"A sweep task failed on the cluster: {type(exc).__name__}: {exc}") from exc
            tick()
    finally:
        if own is not None:
            own.close()
