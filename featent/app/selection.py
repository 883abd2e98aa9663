"""The sidebar selection (model, weights, data, class, images, seed), kept across pages.

Why the indirection: Streamlit forgets a widget's value when a page that does not draw it runs
(or on a page switch). Each value therefore lives under a plain session key ``sel_<name>`` and
is copied into the widget's own key ``_w_<name>`` before the widget is drawn, so every page that
draws the sidebar starts from the user's last choice.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import streamlit as st

import featent.data as featent_data
from featent.app import cached, links, mode, public
from featent.app.errors import shown_in_place
from featent.core.entropy import MIN_HOLE_SIZE
from featent.data import Dataset, load_dataset
from featent.errors import DataError, FeatentError, ModelError
from featent.nets import LoadedModel, list_models
from featent.nets.loading import guarded_builds, set_model_cache_limits
from featent.pipeline import Selection, load_model
from featent.spec import ModelSpec

DEFAULT_MODEL = "demo"
DEFAULT_N_IMAGES = 100
WEIGHT_MODES = ("Built-in", "Checkpoint path", "Upload checkpoint")
FOLDER = "Image folder"
OTHER_SPEC = "Other spec…"
UPLOAD_ZIP = "Upload zip"
PUBLIC_WEIGHT_MODES = (WEIGHT_MODES[0], WEIGHT_MODES[2])


def builtin_datasets() -> tuple[str, ...]:
    """The datasets chosen by name, the default first."""
    return (featent_data.FASHION, featent_data.DIGITS)


DEFAULT_DATA = builtin_datasets()[0]
DATA_MODES = (*builtin_datasets(), FOLDER)


@dataclass(frozen=True)
class Context:
    """Everything a page needs about the current choice: the spec, the loaded model, the data."""

    selection: Selection
    model: LoadedModel
    dataset: Dataset
    #: What links write for the data: a name in public mode (never a server path), else the spec.
    data_name: str | None = None

    @property
    def fingerprint(self) -> str:
        """Weights and data fingerprints: part of every in-memory cache key derived from them."""
        return f"{self.model.fingerprint}|{self.dataset.fingerprint}"

    def for_layers(self, *layers: str) -> Selection:
        """The same choice restricted to some layers (births are cached per layer)."""
        return Selection(**{**self.selection.__dict__, "layers": tuple(layers)})

    def share(self, where=None, **view: object) -> dict[str, str]:
        """Write this view into the address bar (selection + ``view`` keys) and draw 'Copy link'
        (into ``where``: a sidebar placeholder when called from a fragment)."""
        sel = self.selection
        params = links.write_link(model=sel.model, data=self.data_name or sel.data, **{"class": sel.class_name},
                                  images=sel.n_images, seed=sel.seed, **view)
        links.copy_link(params, where)
        return params


def model_options() -> list[str]:
    """Every zoo model as trained and as random init, the demo first."""
    return [spec for name in list_models() for spec in (name, f"{name}:random")]


def public_data_choices() -> dict[str, str | None]:
    """Public mode's data list: built-in names, the roots' folders by name, and an uploaded zip."""
    choices: dict[str, str | None] = {name: name for name in builtin_datasets()}
    choices.update({name: str(path) for name, path in mode.data_roots().items() if name not in choices})
    choices[UPLOAD_ZIP] = None
    return choices


def persisted(name: str, default: Any, options: list | None = None) -> str:
    """Widget key for ``name``, preloaded with the remembered value (valid for ``options``)."""
    widget_key = f"_w_{name}"
    value = st.session_state.get(widget_key, st.session_state.get(f"sel_{name}", default))
    if options is not None and value not in options:
        value = default if default in options else options[0]
    st.session_state[widget_key] = value
    return widget_key


def remember(name: str, value: Any) -> Any:
    """Store a widget's value under its page-independent key; returns it."""
    st.session_state[f"sel_{name}"] = value
    return value


def saved_upload(data: bytes) -> str:
    """Write an uploaded checkpoint's bytes into this browser session's private upload folder (0700,
    removed when the session ends or the server starts; size-limited in public mode), named by content hash."""
    if mode.public_mode():
        public.check_upload_size(len(data))
    folder = public.session_folder()
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}.pt"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    return str(path)


def is_random(spec: str) -> bool:
    """True for a random-init spec; False also for a spec that does not parse (loading it says why)."""
    try:
        return ModelSpec.parse(spec).is_random
    except FeatentError:
        return False


def _weights_input(spec: str) -> str | None:
    """Weights file for ``spec``: None for built-in/random, else a path typed or uploaded."""
    sb = st.sidebar
    if is_random(spec):
        sb.caption("Random initialisation: no weights to choose.")
        return None
    modes = PUBLIC_WEIGHT_MODES if mode.public_mode() else WEIGHT_MODES
    weights_mode = remember(
        "weights_mode",
        sb.radio(
            "Weights",
            modes,
            key=persisted("weights_mode", WEIGHT_MODES[0], list(modes)),
            horizontal=False,
            help="Built-in: the shipped demo weights or torchvision's cached ones.",
        ),
    )
    if weights_mode == "Checkpoint path":
        path = remember("weights_path", sb.text_input("Checkpoint file (.pt state_dict)", key=persisted("weights_path", ""),
                                                       placeholder="/path/to/checkpoint.pt"))
        return path.strip() or None
    if weights_mode == "Upload checkpoint":
        upload = sb.file_uploader("Checkpoint (.pt, .pth state_dict)", type=["pt", "pth", "bin"], key="_w_upload")
        if upload is not None:
            with shown_in_place():
                st.session_state["sel_upload_path"] = saved_upload(upload.getvalue())
            st.session_state["sel_upload_name"] = upload.name
        return st.session_state.get("sel_upload_path")
    return None


def _model_box() -> str:
    """Zoo models (and their random init) in a list, anything else typed as a spec in its own box.

    A typed spec is never mixed with the list's text: the list holds known names only, and
    "Other spec…" opens a text box whose content is the spec, exactly as typed.
    """
    sb = st.sidebar
    if mode.public_mode():
        return _public_model_box()
    options = [*model_options(), OTHER_SPEC, *python_file_option()]
    remembered = st.session_state.get("sel_model", DEFAULT_MODEL)
    current = st.session_state.get("_w_model")
    if current not in options:
        current = remembered if remembered in options else OTHER_SPEC
    st.session_state["_w_model"] = current  # assigned every run, so a page switch keeps it (see persisted)
    if current == OTHER_SPEC:
        st.session_state["_w_model_spec"] = st.session_state.get(
            "_w_model_spec", remembered if remembered not in options else "")
    choice = sb.selectbox("Model", options, key="_w_model",
                          help="A zoo model or NAME:random for its random init; choose 'Other spec…' to type "
                               "e.g. 'vgg11:random@64' (random init at 64x64 input).")
    if choice == PYTHON_FILE:
        return remember("model", _python_file_box())
    if choice != OTHER_SPEC:
        st.session_state.pop("_w_model_spec", None)
        return remember("model", choice)
    typed = sb.text_input("Model spec", key="_w_model_spec", placeholder="vgg11:random@64",
                          help="NAME, NAME:random, NAME:random:SEED, each optionally with @SIZE.").strip()
    if not typed:
        raise_in_place(ModelError("Type a model spec such as 'vgg11:random@64', or pick a model from the list."))
    with shown_in_place():
        ModelSpec.parse(typed)  # the one spec parser says what is wrong, in one sentence
    return remember("model", typed)


def _public_model_box() -> str:
    """Public mode: the zoo list only (no typed spec); a linked spec is taken when the server offers it."""
    options = model_options()
    remembered = str(st.session_state.get("sel_model", DEFAULT_MODEL))
    if remembered not in options:
        try:
            options.append(public.check_spec(remembered))
        except FeatentError as refused:
            st.warning(f"The link's model={remembered[:80]!r} cannot be used: {refused} {DEFAULT_MODEL!r} was used instead.",
                       icon=":material/link_off:")
            remembered = remember("model", DEFAULT_MODEL)
    current = st.session_state.get("_w_model")
    st.session_state["_w_model"] = current if current in options else remembered
    choice = str(st.sidebar.selectbox("Model", options, key="_w_model",
                                  help="A zoo model or NAME:random for its random init (this server's limits apply)."))
    with shown_in_place():
        public.check_spec(choice)
    return remember("model", choice)


def _public_data() -> tuple[str, str]:
    """Public mode's data: (name shown and linked, spec loaded); a zip upload unpacks into the session's folder."""
    choices = public_data_choices()
    names = list(choices)
    name = remember("data_mode", st.sidebar.selectbox("Data", names, key=persisted("data_mode", DEFAULT_DATA, names),
                                                      help="Built-in data, the server's folders, or a zip of class folders."))
    if name != UPLOAD_ZIP:
        return name, str(choices[name])
    limits = mode.limits()
    upload = st.sidebar.file_uploader(f"Zip of class folders (at most {limits.max_upload_mb:g} MB)", type=["zip"],
                                      key="_w_upload_zip")
    if upload is not None and st.session_state.get("_upload_zip_id") != upload.file_id:
        with shown_in_place():
            folder = public.unpack_zip(upload.getvalue(), public.session_folder(), limits)
        st.session_state["_upload_zip_id"] = upload.file_id
        st.session_state["sel_upload_zip"] = str(folder)
    data = st.session_state.get("sel_upload_zip", "")
    if not data or not Path(data).is_dir():
        raise_in_place(DataError("Upload a zip holding one folder of images per class, or choose other data."))
    return UPLOAD_ZIP, data


PYTHON_FILE = "Python file…"


def python_file_option() -> list[str]:
    """The "Python file" model source: offered on a local app only (loading a file runs its code)."""
    return [] if mode.public_mode() else [PYTHON_FILE]


def _python_file_box() -> str:
    """A user's own module: a .py path and the NAME in it (an nn.Module subclass, a factory or a
    from_module result), read as the spec 'PATH:NAME'. Loading it executes the file."""
    sb = st.sidebar
    path = sb.text_input("Python file", key="_w_code_path", placeholder="/path/to/mynet.py").strip()
    name = sb.text_input("Name in it", key="_w_code_name", placeholder="MyNet",
                         help="An nn.Module subclass, a zero-argument factory or a featent.from_module(...) result. "
                              "input_size, mean and std are read from it.").strip()
    sb.caption("Loading a Python file executes its code, as running it would: open only files you trust.")
    if not path or not name:
        raise_in_place(ModelError("Type the path of a .py file and the name of the model class or factory in it."))
    spec = f"{path}:{name}"
    with shown_in_place():
        if not ModelSpec.parse(spec).runs_code:
            raise ModelError(f"{path!r} is not a .py file; give the path of the file that defines {name!r}.")
    return spec


def raise_in_place(error: Exception) -> None:
    """Show ``error`` as one sentence where the page is and stop it."""
    with shown_in_place():
        raise error


def _checkpoint_problem(path: str) -> str | None:
    """One sentence when a typed checkpoint path cannot be a checkpoint file."""
    file = Path(path).expanduser()
    if file.is_dir():
        return (f"{path!r} is a folder, not a checkpoint file; give the .pt/.pth file inside it "
                "(a state_dict saved with torch.save).")
    return None


def _load(spec: str, weights: str | None) -> LoadedModel:
    """load_model; in public mode a build or a family member's training is a job of the queue (a memo hit is not)."""
    if not mode.public_mode():
        return load_model(spec, weights)
    if public.needs_training(spec):
        return cached.bounded(lambda: load_model(spec, weights))
    with guarded_builds(cached.bounded):
        return load_model(spec, weights)


def sidebar_selection() -> Context:
    """Draw the sidebar and load what it names; problems are shown in place and stop the page."""
    sb = st.sidebar
    public_mode = mode.public_mode()
    with shown_in_place():  # a bad limit in the operator's config is one sentence
        limits = mode.limits()
    max_images = limits.max_images if public_mode else links.MAXIMA["images"]
    set_model_cache_limits(limits.max_models, int(limits.max_model_mb * 1e6))
    public.clear_uploads_at_startup()  # uploads live in per-session folders in both modes
    public.keep_alive()
    public.sweep_ended_sessions()
    if public_mode:
        links.apply_link(builtin_datasets(), named_data=tuple(public_data_choices()),
                         maxima={"images": (max_images, limits.sentence("max_images", "the link's count").split(";")[0])})
    else:
        links.apply_link(builtin_datasets())
    for problem in links.link_problems():
        st.warning(problem, icon=":material/link_off:")
    sb.header("Selection")
    spec = _model_box()
    weights = _weights_input(spec)
    data_name = None
    if public_mode:
        data_name, data = _public_data()
        data_mode = data_name
    else:
        data_mode = remember("data_mode", sb.radio("Data", DATA_MODES, key=persisted("data_mode", DEFAULT_DATA, list(DATA_MODES)),
                                                   horizontal=True))
        if data_mode == FOLDER:
            data = remember("data_path", sb.text_input("Image folder (one subfolder per class)", key=persisted("data_path", ""),
                                                         placeholder="/data/imagenet/train")).strip()
        else:
            data = data_mode

    with shown_in_place():
        if not data:
            raise DataError(f"Type the path of an image folder with one subfolder per class, or choose "
                            f"{' or '.join(repr(n) for n in builtin_datasets())}.")
        weights_mode = st.session_state.get("sel_weights_mode", WEIGHT_MODES[0])
        if weights is None and weights_mode != WEIGHT_MODES[0] and not is_random(spec):
            raise ModelError("Give a checkpoint file (type its path or upload it), or choose 'Built-in' weights.")
        if weights is not None and weights_mode == WEIGHT_MODES[1]:
            unusable = _checkpoint_problem(weights)
            if unusable:
                raise ModelError(unusable)
        try:
            model = _load(spec, weights)
        except ModelError as error:
            upload_name = st.session_state.get("sel_upload_name")
            if weights is not None and weights_mode == WEIGHT_MODES[2] and upload_name:
                raise ModelError(str(error).replace(weights, upload_name)) from None
            raise
        dataset = load_dataset(data)
    classes = list(dataset.classes)
    linked_class = links.linked("class")
    if linked_class is not None and linked_class not in classes:
        used = st.session_state.get("sel_class_name")
        links.warn_unused("class", linked_class, used if used in classes else classes[0])
    class_name = remember("class_name", sb.selectbox("Class", classes, key=persisted("class_name", classes[0], classes)))
    c1, c2 = sb.columns(2)
    n_images = remember("n_images", int(c1.number_input("Images", min_value=2, max_value=max_images, step=10,
                                                        key=persisted("n_images", DEFAULT_N_IMAGES),
                                                        help="Images sampled from the class (|Ω|). The paper uses 100. "
                                                             "A class with fewer images gives all it has.")))
    seed = remember("seed", int(c2.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1,
                                                key=persisted("seed", 0), help="Which images are sampled.")))
    if dataset.skipped:
        sb.caption(f"{dataset.skipped} unreadable files in the folder were skipped.")
    for note in getattr(dataset, "notes", ()):  # classes left out of a folder, links not followed
        sb.caption(f"Note: {note}.")
    source = model.weights_source
    upload_name = st.session_state.get("sel_upload_name")
    if weights is not None and upload_name and weights == st.session_state.get("sel_upload_path"):
        source = f"uploaded {upload_name}"
    sb.caption(f"Weights: {source}")
    selection = Selection(model=spec, data=data, class_name=class_name,
                          layers=tuple(info.name for info in model.layers),
                          n_images=n_images, seed=seed, weights=weights)
    return Context(selection=selection, model=model, dataset=dataset, data_name=data_name)


@overload
def layer_and_unit(model: LoadedModel, *, with_unit: Literal[True] = ..., where=...) -> tuple[str, int]: ...
@overload
def layer_and_unit(model: LoadedModel, *, with_unit: Literal[False], where=...) -> tuple[str, None]: ...
def layer_and_unit(model: LoadedModel, *, with_unit: bool = True, where=(st, st)) -> tuple[str, int | None]:
    """Layer (and unit) pickers shared by the pages, remembered across them.

    ``where`` holds the two containers to draw the layer and the unit picker into.
    """
    names = [info.name for info in model.layers]
    # Default: the deepest layer whose maps can hold a hole (m >= 4); smaller ones stay choosable.
    default = next((info.name for info in reversed(model.layers) if info.unit_size >= MIN_HOLE_SIZE), names[-1])
    linked_layer = links.linked("layer")
    if linked_layer is not None and linked_layer not in names:
        used = st.session_state.get("sel_layer")
        links.warn_unused("layer", linked_layer, used if used in names else default)
    layer = remember("layer", where[0].selectbox("Layer", names, key=persisted("layer", default, names),
                                              help="Deeper layers have smaller units (m x m) and more of them."))
    if not with_unit:
        return layer, None
    info = model.layer(layer)
    key = persisted("unit", 0)
    linked_unit = links.linked("unit")
    if not 0 <= st.session_state[key] < info.n_units:
        if linked_unit is not None:
            links.warn_unused("unit", linked_unit, 0)
        st.session_state[key] = 0
    unit = remember("unit", int(where[1].number_input(f"Unit (0..{info.n_units - 1})", min_value=0,
                                                   max_value=info.n_units - 1, step=1, key=key)))
    return layer, unit
