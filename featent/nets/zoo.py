"""The model zoo: the demo CNN, every torchvision classifier and (when installed) timm models.

Pretrained weights come as torchvision and timm fetch them: from the local cache, downloaded on
first use when the network is reachable, unless offline mode is on (``FEATENT_OFFLINE=1`` or the
CLI's ``--offline``). Every download is checked against its published hash: torchvision's file names
carry the sha256 prefix (checked as torch.hub's ``check_hash`` does), and timm's files come through
the Hugging Face hub, which verifies them and keeps its own cache. Without a cached file and without
a network the answer is one sentence naming the file and the folder to put it in, within seconds.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from featent.errors import ModelError
from featent.nets.checkpoints import read_checkpoint
from featent.nets.demo import DEMO, DemoNet
from featent.nets.seeding import RNG_LOCK

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TORCHVISION_INPUT_SIZE",
    "TRANSFORMERS",
    "offline",
    "torchvision_names",
    "timm_available",
    "build",
    "check_name",
    "pretrained_state",
    "published_hash_prefix",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_INPUT_SIZE = 224
#: torchvision classifiers built from attention blocks: only their patch-embedding conv is a layer.
TRANSFORMERS = ("vit_", "swin_")
_CONNECT_TIMEOUT_S = 3.0


def offline() -> bool:
    """True when ``FEATENT_OFFLINE`` is set to a true value: never try the network."""
    return os.environ.get("FEATENT_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def torchvision_names() -> list[str]:
    """Every torchvision classification model, sorted."""
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))


def timm_available() -> bool:
    try:
        import timm  # noqa: F401
    except ImportError:
        return False
    return True


def _timm(name: str):
    try:
        import timm
    except ImportError as exc:
        raise ModelError(f"'timm/{name}' needs the optional package timm; install it with 'pip install timm'.") from exc
    if name not in timm.list_models():
        raise ModelError(f"timm has no model {name!r}; see timm.list_models() for the names it knows.")
    return timm


def check_name(name: str) -> None:
    """ModelError unless ``name`` is the demo, a torchvision classifier or timm/NAME (timm checks its own)."""
    if name == DEMO or name.startswith(DEMO + "-") or name.startswith("timm/"):
        return
    if name not in torchvision_names():
        raise ModelError(
            f"Unknown model {name!r}; use 'demo', a torchvision classifier (e.g. vgg16, resnet18, mobilenet_v2, "
            "efficientnet_b0, convnext_tiny), or timm/NAME."
        )


def build(name: str, n_classes: int | None = None, pretrained: bool = False) -> nn.Module:
    """A fresh module for a zoo name (random init under the caller's RNG); timm builds pretrained itself.

    Its init draws from torch's global generator, so it holds :data:`~featent.nets.seeding.RNG_LOCK`."""
    with RNG_LOCK:
        return _build(name, n_classes, pretrained)


def _build(name: str, n_classes: int | None, pretrained: bool) -> nn.Module:
    if name == DEMO or name.startswith(DEMO + "-"):
        return DemoNet(n_classes=n_classes or 10)
    if name.startswith("timm/"):
        timm = _timm(name[5:])
        if pretrained:
            cached = _timm_cached(timm, name[5:])
            if cached is not None:
                return cached
            _check_network(f"the pretrained weights of timm/{name[5:]}", _hf_cache(), "huggingface.co")
            try:  # reachable: timm fetches into the Hugging Face cache
                return timm.create_model(name[5:], pretrained=True)
            except Exception as exc:  # hub errors come in many types
                raise ModelError(
                    f"Cannot fetch the pretrained weights of timm/{name[5:]} ({str(exc).splitlines()[0][:120]}); put them in "
                    f"{_hf_cache()} or use 'timm/{name[5:]}:random'."
                ) from exc
        kwargs: dict[str, Any] = {} if n_classes is None else {"num_classes": n_classes}
        return timm.create_model(name[5:], pretrained=False, **kwargs)
    import torchvision.models as tvm

    check_name(name)
    kwargs = {"weights": None, "num_classes": n_classes or 1000}
    if name in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = False
        kwargs["init_weights"] = True
    return tvm.get_model(name, **kwargs)


def _timm_cached(timm, name: str) -> nn.Module | None:  # the optional timm module
    """The pretrained timm model from the local Hugging Face cache only (no network call), or None."""
    try:
        from huggingface_hub import constants
        from timm.models import get_pretrained_cfg
    except ImportError:
        return None
    config = get_pretrained_cfg(name)
    hub_id = getattr(config, "hf_hub_id", None) if config is not None else None
    if not hub_id or not (Path(_hf_cache()) / ("models--" + hub_id.replace("/", "--"))).is_dir():
        return None
    previous = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True  # read the cache; never ask the network (it would retry for minutes)
    try:
        return timm.create_model(name, pretrained=True)
    except Exception:  # noqa: BLE001 - an incomplete cache entry
        return None
    finally:
        constants.HF_HUB_OFFLINE = previous


def _hf_cache() -> str:
    """The Hugging Face hub cache, as huggingface_hub resolves it (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
        return os.environ.get("HF_HUB_CACHE") or str(home / "hub")
    return str(constants.HF_HUB_CACHE)


def _check_network(what: str, folder: str, host: str) -> None:
    """Fail fast, with one sentence, when the file cannot be fetched."""
    if offline():
        raise ModelError(
            f"Offline mode is on and {what} are not cached; put the file in {folder} or use a random init (NAME:random)."
        )
    try:
        with socket.create_connection((host, 443), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ModelError(
            f"Cannot reach {host} to fetch {what} ({type(exc).__name__}); download it on a connected machine and put it in "
            f"{folder}, or use a random init (NAME:random) or --weights PATH."
        ) from exc


def torchvision_weights_file(name: str) -> Path:
    """Where torchvision keeps (or will keep) the default pretrained weights of ``name``."""
    import torchvision.models as tvm

    try:
        weights = tvm.get_model_weights(name).DEFAULT
    except Exception as exc:  # torchvision raises ValueError/KeyError for unknown names
        raise ModelError(f"torchvision has no pretrained weights for {name!r}; use '{name}:random'.") from exc
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def published_hash_prefix(filename: str) -> str | None:
    """The sha256 prefix torchvision publishes in a weights file name (``resnet18-f37072fd.pth`` -> ``f37072fd``)."""
    found = torch.hub.HASH_REGEX.search(filename)
    return found.group(1) if found else None


def pretrained_state(name: str) -> tuple[dict[str, torch.Tensor], str]:
    """The default pretrained state_dict of a torchvision model: cached, else fetched (not offline)."""
    file = torchvision_weights_file(name)
    if not file.is_file():
        import torchvision.models as tvm

        url = tvm.get_model_weights(name).DEFAULT.url
        _check_network(
            f"the pretrained weights {file.name} of {name}", str(file.parent), urlparse(url).hostname or "download.pytorch.org"
        )
        file.parent.mkdir(parents=True, exist_ok=True)
        try:  # the sha256 prefix in the file name (resnet18-f37072fd.pth), as torch.hub's check_hash=True reads it
            torch.hub.download_url_to_file(url, str(file), hash_prefix=published_hash_prefix(file.name), progress=False)
        except Exception as exc:  # urllib raises several types
            raise ModelError(
                f"Cannot download {file.name} for {name} ({str(exc).splitlines()[0][:120]}); put it in {file.parent}."
            ) from exc
    return read_checkpoint(file), str(file)
