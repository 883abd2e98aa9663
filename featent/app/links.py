"""Deep links: every view is a URL. Pages read and write ``st.query_params`` with the keys
``model, data, class, layer, unit, image, step, images, seed``.

How: a link's values are copied into the session keys the widgets read (``sel_<name>`` and the
widget key ``_w_<name>``, see ui.selection) whenever the URL holds something this session did not
write itself (a link opened in a new tab, a gallery click, a bookmark); after drawing, each page
writes back what it shows, so the address bar always names the current view.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import streamlit as st

KEYS = ("model", "data", "class", "layer", "unit", "image", "step", "images", "seed")
INTEGER_KEYS = ("unit", "image", "step", "images", "seed")
#: query key -> session name used by ui.selection (``sel_<name>`` / ``_w_<name>``)
SESSION_NAMES = {"model": "model", "class": "class_name", "layer": "layer", "unit": "unit", "image": "image",
                 "step": "step", "images": "n_images", "seed": "seed"}
WRITTEN = "_links_written"
PROBLEMS = "_links_problems"
LINKED = "_links_values"
#: Largest value each integer key can take (the widgets' own bounds).
MAXIMA = {"images": 5000, "seed": 2**31 - 1}


def _set(name: str, value: object) -> None:
    st.session_state[f"sel_{name}"] = value
    st.session_state[f"_w_{name}"] = value


def parse(params: Mapping[str, str]) -> tuple[dict[str, object], list[str]]:
    """Link values by key (integers parsed) and one sentence per value that cannot be used."""
    values: dict[str, object] = {}
    problems: list[str] = []
    for key in KEYS:
        if key not in params:
            continue
        raw = str(params[key]).strip()
        if key in INTEGER_KEYS:
            try:
                number = int(raw)
            except ValueError:
                problems.append(f"The link's {key}={raw[:80]!r} is not a whole number; it was ignored.")
                continue
            if number < (1 if key in ("images", "step") else 0):
                problems.append(f"The link's {key}={number} is out of range; it was ignored.")
                continue
            values[key] = number
        elif raw:
            values[key] = raw
    return values, problems


def apply_link(builtin_data: tuple[str, ...], named_data: tuple[str, ...] | None = None,
               maxima: Mapping[str, tuple[int, str]] | None = None) -> dict[str, object]:
    """Copy the URL's values into the session when the URL is new to this session; returns them.

    ``builtin_data`` names the datasets chosen by name (the rest are image-folder paths). In public
    mode ``named_data`` holds every data name a visitor may choose (no paths); a value outside it is
    refused with a warning. ``maxima`` overrides a key's largest value with (value, why).
    """
    current = {k: v for k, v in st.query_params.to_dict().items() if k in KEYS}
    if not current or current == st.session_state.get(WRITTEN):
        return {}
    values, problems = parse(current)
    limits = {key: (high, f"at most {high}") for key, high in MAXIMA.items()}
    limits.update(maxima or {})
    for key, (high, why) in limits.items():
        value = values.get(key)
        if isinstance(value, int) and value > high:
            fallback = 100 if key == "images" else 0  # the defaults: 100 images (the paper's count), seed 0
            used = min(int(st.session_state.get(f"sel_{SESSION_NAMES[key]}", fallback)), high)
            problems.append(f"The link's {key}={value} cannot be used ({why}); {used} was used instead.")
            values[key] = used
    if named_data is not None and "data" in values and values["data"] not in named_data:
        problems.append(f"The link's data={str(values.pop('data'))[:80]!r} is not offered on this server; "
                        f"{st.session_state.get('sel_data_mode', named_data[0])!r} was used instead.")
    st.session_state[PROBLEMS] = problems
    st.session_state[LINKED] = dict(values)
    for key, value in values.items():
        if key == "data":
            if value in builtin_data or named_data is not None:
                _set("data_mode", value)
            else:
                _set("data_mode", "Image folder")
                _set("data_path", value)
        elif key == "model":
            _set("model", value)
            _set("weights_mode", "Built-in")
            st.session_state.pop("_w_model_spec", None)  # the model box re-reads the spec
        else:
            _set(SESSION_NAMES[key], value)
    st.session_state[WRITTEN] = current  # applied once; the page writes the view it shows
    return values


def link_problems() -> list[str]:
    """Sentences about link values that were ignored (shown once by the page)."""
    return st.session_state.pop(PROBLEMS, [])


def linked(key: str) -> object | None:
    """The value the link just opened gave ``key`` (once: the check that reads it warns at most once)."""
    return st.session_state.get(LINKED, {}).pop(key, None)


def warn_unused(key: str, value: object, used: object) -> None:
    """The visible sentence for a link value the page could not use, naming what it used instead."""
    st.warning(f"The link's {key}={str(value)[:80]!r} does not exist here; {used!r} was used instead.",
               icon=":material/link_off:")


def write_link(**values: object) -> dict[str, str]:
    """Put the shown view into the address bar (only the keys given and not None)."""
    params = {k: str(v) for k, v in values.items() if k in KEYS and v is not None}
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    st.session_state[WRITTEN] = params
    return params


def share_url(params: Mapping[str, str]) -> str:
    """The full address of the current page with ``params`` (relative when the browser URL is unknown)."""
    base = None
    try:
        base = st.context.url
    except Exception:  # noqa: BLE001 - outside a browser session (AppTest) there is no URL
        base = None
    query = urlencode(dict(params))
    return f"{base or ''}?{query}" if query else (base or "")


def copy_link(params: Mapping[str, str], where=None) -> None:
    """'Copy link': the view's full address in a code box whose copy icon puts it on the clipboard
    (one click; no popover to open first)."""
    where = where or st.sidebar
    box = where.container(key="copy_link")
    box.caption(":material/link: **Copy link** to this view (icon at the right of the address):")
    box.code(share_url(params), language=None, wrap_lines=False)
