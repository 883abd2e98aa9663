"""The memo of loaded models is bounded by count and bytes, and an evicted model's memory goes back."""

from __future__ import annotations

import gc
import os
import weakref

import pytest

from featent.nets import loading


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def small_memo():
    loading.clear_model_cache()
    yield
    loading.set_model_cache_limits(8, 4 * 2**30)
    loading.clear_model_cache()


def test_evicted_models_are_freed_and_rss_returns_within_a_bound(small_memo) -> None:
    loading.set_model_cache_limits(count=1)
    first = loading.load_model("resnet18:random:1")
    size = loading.model_bytes(first)
    gone = weakref.ref(first)
    del first
    loading.load_model("resnet18:random:2")  # one more load first: the allocator's pools and traced graphs are warm
    gc.collect()
    loading._return_freed_memory()
    baseline = _rss()
    for seed in range(3, 7):  # four more models of `size` bytes each: without the bound RSS grows by 4 x size
        loading.load_model(f"resnet18:random:{seed}")
    gc.collect()
    assert gone() is None and len(loading._CACHE) == 1
    assert _rss() - baseline < 1.5 * size, (_rss() - baseline, size)


def test_the_byte_bound_keeps_the_newest_model_only(small_memo) -> None:
    loading.set_model_cache_limits(count=8, n_bytes=1)
    loading.load_model("demo:random:1")
    newest = loading.load_model("demo:random:2")
    assert list(loading._CACHE.values()) == [newest]
    assert loading.load_model("demo:random:2") is newest  # a hit moves it to the end, not a reload


def test_a_weights_path_with_a_nul_is_one_sentence() -> None:
    from featent.errors import ModelError

    with pytest.raises(ModelError, match="contains a NUL character"):
        loading.load_model("demo", "/tmp/x\x00y.pt")
