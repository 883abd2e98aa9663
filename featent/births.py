"""The births engine: birth times (and null births) of a class's images at some layers, from the
store when there, else streamed through the model chunk by chunk and stored.

Why one engine: births are the expensive, reusable artefact under every figure, so every caller
(``featent.pipeline``, the sweep, the experiments, the app) must find the same entries under the
same keys, check them the same way and stream the same way. Here:

- store keys are built from typed fields (``BirthsKey``, ``SizeReferenceKey``), never by editing
  another key's text; their strings are the store's on-disk contract;
- each (layer, births / null births) entry is looked up on its own and checked against its full
  expected shape (images actually sampled x units, int32); a mismatch is recomputed and overwritten;
- the missing ones are computed in ONE pass: the forward pass of chunk k+1 runs in a producer thread
  while the births of chunk k are computed (torch and the numba kernel both release the GIL), and
  null births come from the same maps, so the baselines cost no second forward pass, and a layer's births
  and null births run in one compiled launch;
- a store that cannot be written is reported once through ``Progress.warn`` and never stops the work;
- device placement is exact (float32, TF32 off) and chunks are sized to bound host and GPU memory.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from featent.core import baselines
from featent.core.baselines import births_and_null_births
from featent.core.entropy import feature_entropy
from featent.core.topology import birth_times
from featent.data import Dataset, ImageSet
from featent.errors import CacheError, ModelError
from featent.extract import default_batch_size, iter_activations
from featent.nets import LoadedModel
from featent.progress import Progress, ProgressLike, counted
from featent.store import BirthsKey, ResultStore, SizeReferenceKey

__all__ = ["BirthsKey", "SizeReferenceKey", "LayerBirths", "layer_births", "size_reference", "size_reference_births",
           "iter_births", "shuffled_births", "place_model", "chunk_size", "data_fingerprint", "NOT_CACHED"]

#: Bytes of captured activations per chunk (three chunks may be alive at once).
_HOST_BUDGET = 256 * 2**20
_DONE = object()
#: The start of the warning given when a result cannot be written to the store.
NOT_CACHED = "results are not cached"


# --------------------------------------------------------------------------- store keys


def data_fingerprint(dataset: Dataset, split: str) -> str:
    """The data part of a births key: the dataset's fingerprint, tagged with the split unless "train"."""
    return dataset.fingerprint if split == "train" else f"{dataset.fingerprint}.{split}"


# --------------------------------------------------------------------------- device and chunking


def place_model(model: LoadedModel, device: str | None) -> LoadedModel:
    """``model`` on ``device`` ("cpu", "cuda", "cuda:N"; None = where it is), in float32 with TF32 off.

    A GPU copy of the module is made (the CPU model may be shared with other callers); exact means
    no autocast and no TF32, so activations are IEEE float32 as on the CPU.
    """
    import torch

    if device is None:
        return model
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"Unknown device {device!r}; use cpu, cuda or cuda:N.") from exc
    if target.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(f"Device {device!r} was asked for, but torch sees no CUDA GPU here.")
        if target.index is not None and target.index >= torch.cuda.device_count():
            raise ModelError(f"Device {device!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s).")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif target.type != "cpu":
        raise ModelError(f"Unknown device {device!r}; use cpu, cuda or cuda:N.")
    if model.device == target:
        return model
    module = copy.deepcopy(model.module).to(target, torch.float32).eval()
    return dataclasses.replace(model, module=module, device=target, lock=threading.RLock())


def chunk_size(model: LoadedModel, layers: Sequence[str]) -> int:
    """Images per forward chunk: the extractor's default, bounded by host memory for the captured
    layers and, on a GPU, by half its free memory for the forward pass up to the last layer."""
    order = [info.name for info in model.layers]
    wanted = [model.layer(name) for name in layers]
    captured = sum(4 * i.n_units * i.unit_size**2 for i in wanted)
    size = min(default_batch_size(model), max(1, _HOST_BUDGET // max(1, captured)))
    if model.device.type == "cuda":
        import torch

        last = max(order.index(i.name) for i in wanted)
        forward = 4 * (3 * model.input_size**2 + sum(i.n_units * i.unit_size**2 for i in model.layers[: last + 1]))
        free, _total = torch.cuda.mem_get_info(model.device)
        size = max(1, min(256, max(1, _HOST_BUDGET // max(1, captured)), int(0.5 * free) // max(1, 2 * forward)))
    return int(size)


# --------------------------------------------------------------------------- overlapped births


NullBirths = Callable[[np.ndarray, int], np.ndarray]


def shuffled_births(acts: np.ndarray, first_image: int) -> np.ndarray:
    """int32 null births of a chunk of maps: each map's entries shuffled inside the births kernel, seeded by
    (image index, unit index), so the chunking does not change them."""
    return np.asarray(baselines.null_births(acts, baselines.NULL_SEED, first_image=first_image), dtype=np.int32)


#: The kernel's own null: where a layer needs births and these null births, one fused launch computes both.
_KERNEL_NULL = shuffled_births


def _offer(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def iter_births(model: LoadedModel, images, layers: Sequence[str], ids: Sequence[str] | None = None,
                batch_size: int | None = None, overlap: bool = True, birth_threads: int | None = None,
                null: NullBirths | None = None, *, births_for: Sequence[str] | None = None,
                null_for: Sequence[str] | None = None,
                ) -> Iterator[tuple[int, dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """Yield ``(start, {layer: int32 births [b, units]}, {layer: null births})`` chunk by chunk.

    With ``overlap`` the forward pass of the next chunk runs in a producer thread meanwhile (one
    chunk queued). ``null`` (e.g. ``shuffled_births``) adds the null births of the same maps.
    ``births_for`` / ``null_for`` restrict which of ``layers`` get births / null births (default all).
    ``birth_threads`` caps the birth-time threads.
    """
    size = batch_size or chunk_size(model, layers)
    source = iter_activations(model, images, list(layers), batch_size=size, ids=ids)
    births_layers = set(layers if births_for is None else births_for)
    null_layers = set() if null is None else set(layers if null_for is None else null_for)

    def births_of(start: int, chunk: dict[str, np.ndarray]) -> tuple[int, dict, dict]:
        births: dict[str, np.ndarray] = {}
        nulls: dict[str, np.ndarray] = {}
        for name, acts in chunk.items():
            if null is _KERNEL_NULL and name in births_layers and name in null_layers:
                # one launch for both: the same values, half the waits at the launch's end
                births[name], nulls[name] = births_and_null_births(acts, baselines.NULL_SEED, first_image=start,
                                                                   n_threads=birth_threads)
                continue
            if name in births_layers:
                births[name] = np.asarray(birth_times(acts, n_threads=birth_threads), dtype=np.int32)
            if name in null_layers:
                nulls[name] = null(acts, start)  # type: ignore[misc]
        return start, births, nulls

    if not overlap:
        for start, chunk in source:
            yield births_of(start, chunk)
        return
    q: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in source:
                if not _offer(q, item, stop):
                    return
            _offer(q, _DONE, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            _offer(q, exc, stop)

    thread = threading.Thread(target=produce, name="featent-forward", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            start, chunk = item
            del item
            yield births_of(start, chunk)
            del chunk
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
        thread.join()


# --------------------------------------------------------------------------- the engine


@dataclass(frozen=True)
class LayerBirths:
    """Birth times per requested layer (and null births when asked), the images they cover, and
    which (layer, kind) entries this call computed rather than read from the store."""

    births: dict[str, np.ndarray]
    null: dict[str, np.ndarray]
    images: ImageSet
    computed: tuple[tuple[str, bool], ...] = ()

    @property
    def n_images(self) -> int:
        return len(self.images)


class _Writer:
    """Stores arrays; the first refusal is warned once and later writes are still tried."""

    def __init__(self, store: ResultStore | None, progress: Progress) -> None:
        self.store, self.progress = store, progress

    def get(self, key: str, shape: tuple[int, int]) -> np.ndarray | None:
        if self.store is None:
            return None
        hit = self.store.get_births(key)
        if hit is None or hit.shape != shape or hit.dtype != np.int32:
            return None
        return hit

    def put(self, key: str, births: np.ndarray) -> None:
        if self.store is None:
            return
        try:
            self.store.put_births(key, births)
        except CacheError as exc:
            self.progress.warn(f"{NOT_CACHED}: {exc}")


def layer_births(
    model: LoadedModel,
    dataset: Dataset,
    class_name: str,
    layers: Sequence[str],
    n_images: int,
    seed: int = 0,
    split: str = "train",
    *,
    null: bool = False,
    births: bool = True,
    store: ResultStore | None = None,
    progress: ProgressLike = None,
    device: str | None = None,
    overlap: bool = True,
    batch_size: int | None = None,
) -> LayerBirths:
    """Births ``int32 [n, units]`` of ``n_images`` sampled images of ``class_name`` at each of ``layers``
    (and their null births with ``null``; only those with ``births=False``): each entry from ``store``
    when it holds one of the full expected shape, the rest in one streamed pass, then stored.
    Progress runs 0..0.99 over the images."""
    progress = Progress.of(progress)
    layers = list(dict.fromkeys(layers))
    progress(0.0, f"{class_name}: sampling {n_images} images")
    images = dataset.sample(class_name, n_images, seed, split, model.input_size)
    n = len(images)
    data_fp = data_fingerprint(dataset, split)
    # an alias (features.7) shares its layer's (block3_conv1) entries
    keys = {layer: BirthsKey(model.fingerprint, data_fp, class_name, model.layer(layer).name, n_images, seed)
            for layer in layers}
    writer = _Writer(store, progress)
    found: dict[str, np.ndarray] = {}
    nulls: dict[str, np.ndarray] = {}
    for layer in layers:
        shape = (n, model.layer(layer).n_units)
        hit = writer.get(keys[layer].text(), shape) if births else None
        if hit is not None:
            found[layer] = hit
        if null:
            hit = writer.get(keys[layer].as_null().text(), shape)
            if hit is not None:
                nulls[layer] = hit
    births_missing = [layer for layer in layers if births and layer not in found]
    null_missing = [layer for layer in layers if null and layer not in nulls]
    missing = [layer for layer in layers if layer in births_missing or layer in null_missing]
    computed: list[tuple[str, bool]] = []
    if missing:
        parts: dict[str, list[np.ndarray]] = {layer: [] for layer in births_missing}
        null_parts: dict[str, list[np.ndarray]] = {layer: [] for layer in null_missing}
        placed = place_model(model, device or str(model.device))  # also turns TF32 off on a GPU
        what = f"{class_name}: " + (missing[0] if len(missing) == 1 else f"{len(missing)} layers") + ": forward + births"
        progress(0.0, counted(what, 0, n, "images"))
        chunks = iter_births(placed, images.images, missing, ids=images.ids, batch_size=batch_size, overlap=overlap,
                             null=shuffled_births if null_missing else None, births_for=births_missing,
                             null_for=null_missing)
        for start, chunk, null_chunk in chunks:
            for layer, part in chunk.items():
                parts[layer].append(part)
            for layer, part in null_chunk.items():
                null_parts[layer].append(part)
            done = min(n, start + len(next(iter({**chunk, **null_chunk}.values()))))
            progress(0.99 * done / n, counted(what, done, n, "images"))
        for layer in births_missing:
            found[layer] = np.ascontiguousarray(np.concatenate(parts[layer], axis=0), dtype=np.int32)
            writer.put(keys[layer].text(), found[layer])
            computed.append((layer, False))
        for layer in null_missing:
            nulls[layer] = np.ascontiguousarray(np.concatenate(null_parts[layer], axis=0), dtype=np.int32)
            writer.put(keys[layer].as_null().text(), nulls[layer])
            computed.append((layer, True))
    return LayerBirths(births={layer: found[layer] for layer in layers} if births else {},
                       null={layer: nulls[layer] for layer in layers} if null else {},
                       images=images, computed=tuple(computed))


def size_reference_births(m: int, n_images: int, store: ResultStore | None = None,
                          progress: ProgressLike = None) -> np.ndarray:
    """Births of the iid uniform m x m reference units over |Omega| = ``n_images``
    (``featent.core.baselines.size_reference_births``), cached in the store per (m, |Omega|)."""
    key = SizeReferenceKey(int(m), int(n_images))
    writer = _Writer(store, Progress.of(progress))
    births = writer.get(key.text(), (int(n_images), key.units))
    if births is None:
        births = baselines.size_reference_births(int(m), int(n_images))
        writer.put(key.text(), births)
    return births


def size_reference(m: int, n_images: int, store: ResultStore | None = None, progress: ProgressLike = None) -> float:
    """FE of iid uniform m x m units over |Omega| = ``n_images`` (``featent.core.baselines.size_reference``),
    its births cached in the store per (m, |Omega|)."""
    return float(np.mean(feature_entropy(size_reference_births(m, n_images, store, progress))))
