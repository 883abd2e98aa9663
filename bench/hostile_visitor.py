"""A hostile visitor against the app in public mode: every attack below must be refused.

Runs the app's own script in public mode through Streamlit's AppTest (the same code a browser session
runs, without a browser), plus the upload checks the sidebar calls; prints what each attempt gets and
exits non-zero when one is not refused. Offline and bounded (a few small models, no training).

    python bench/hostile_visitor.py
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["FEATENT_PUBLIC"] = "1"
os.environ.setdefault("FEATENT_CACHE_DIR", tempfile.mkdtemp(prefix="featent-hostile-"))

from streamlit.testing.v1 import AppTest  # noqa: E402

from featent.app import mode, public  # noqa: E402
from featent.errors import FeatentError  # noqa: E402

APP = str(ROOT / "app.py")
PRIVATE = Path.home() / ".featent-hostile-private"


def visit(params: dict[str, str], page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=600)
    if page:
        at.run()
        at.switch_page(page)
    at.query_params.update(params)
    at.run()
    return at


def shown(at: AppTest) -> str:
    """What the visitor sees as warnings and errors, and whether anything crashed."""
    parts = [f"warning: {w.value}" for w in at.warning if "link" in str(w.value)] + [f"error: {e.value}" for e in at.error]
    parts += [f"EXCEPTION: {e.value}" for e in at.exception]
    return " | ".join(parts) or "(nothing)"


def main() -> int:
    PRIVATE.mkdir(mode=0o700, exist_ok=True)
    for name in ("a", "b"):
        (PRIVATE / name).mkdir(exist_ok=True)
    results: list[tuple[str, str, bool]] = []

    def link_attack(label: str, params: dict[str, str], refused_when, page: str | None = None) -> None:
        at = visit(params, page)
        text = shown(at)
        data_box = at.selectbox(key="_w_data_mode").value if any(s.key == "_w_data_mode" for s in at.selectbox) else None
        ok = not at.exception and refused_when(text, at, data_box)
        results.append((label, text, ok))

    def names_data(text, at, data_box) -> bool:
        return "is not offered on this server" in text and data_box == "fashion"

    for label, value in [("absolute path to a private 0700 folder", str(PRIVATE)), ("../.. path", "../../.."),
                         ("~ path", "~"), ("?data=/", "/"), ("a .ssh folder", str(Path.home() / ".ssh")),
                         ("the shadow file", "/etc/shadow"), ("5,000-character data", "x" * 5000),
                         ("NUL in data", "/tmp/a\x00b")]:
        link_attack(f"data={label}", {"data": value}, names_data)
    for label, value in [("shadow file as model", "/etc/shadow"), ("checkpoint path as model", "/tmp/model.pt"),
                         ("Python file spec", "evil.py:Net"), ("module spec", "os.path:join"),
                         ("training trigger", "demo-corrupt-0.123"), ("over-long input", "vgg11:random@4096"),
                         ("input over the size limit", "vgg11:random@512")]:
        link_attack(f"model={label}", {"model": value}, lambda t, at, d: "cannot be used" in t and
                    at.selectbox(key="_w_model").value == "demo")
    link_attack("images=2000 on vgg16:random", {"model": "vgg16:random", "images": "2000"},
                lambda t, at, d: "at most 200 images" in t and at.number_input(key="_w_n_images").value <= 200)
    for label, params in [("seed=2147483648", {"seed": "2147483648"}), ("class=Nonexistent", {"class": "Nonexistent"}),
                          ("images=5001", {"images": "5001"}), ("unit=abc", {"unit": "abc"})]:
        link_attack(label, params, lambda t, at, d: "The link's" in t)

    at = visit({})
    typed = [t.label for t in at.text_input]
    results.append(("type a path or spec anywhere in the sidebar", f"text boxes offered: {typed or 'none'}", not typed))
    clear = [b.label for b in at.button if "clear" in str(b.label).lower()]
    results.append(("click 'Clear cache'", f"buttons: {clear or 'none'}", not clear))
    results.append(("weights from a typed checkpoint path", f"weights choices: {at.radio(key='_w_weights_mode').options}",
                    "Checkpoint path" not in at.radio(key="_w_weights_mode").options))

    at = visit({"images": "4"}, "featent/app/views/training_and_generalization.py")
    train = [b.label for b in at.button if "train" in str(b.label).lower()]
    results.append(("click 'Train ... now' (training not allowed)", f"train buttons: {train or 'none'}",
                    not train and not at.exception))
    results.append(_over_time_attack())

    limits = mode.limits()
    big = b"\0" * int((limits.max_upload_mb + 1) * 1e6)
    for label, make in [
        ("20 MB upload", lambda: _saved_nothing(lambda: public.check_upload_size(len(big)))),
        ("atlas file of 1,000,000 rows (a few KB of parquet)", _atlas_attack),
        ("zip with ../", lambda: public.unpack_zip(_zip({"../../x/a.png": b"x"}), Path(tempfile.mkdtemp()))),
        ("zip with an absolute name", lambda: public.unpack_zip(_zip({"/etc/a.png": b"x"}), Path(tempfile.mkdtemp()))),
        ("zip with a link", lambda: public.unpack_zip(_zip({}, link="a/l.png"), Path(tempfile.mkdtemp()))),
        ("zip bomb (1 GB of zeros)", lambda: public.unpack_zip(_bomb(), Path(tempfile.mkdtemp()))),
    ]:
        try:
            make()
            results.append((label, "accepted", False))
        except FeatentError as exc:
            results.append((label, f"refused: {exc}", True))

    results.append(_memory_attack(limits))
    for name in ("a", "b"):
        (PRIVATE / name).rmdir()
    PRIVATE.rmdir()

    width = max(len(r[0]) for r in results)
    for label, text, ok in results:
        print(f"{'REFUSED ' if ok else 'NOT REFUSED'} {label:<{width}}  {text[:300]}")
    failed = [r for r in results if not r[2]]
    print(f"\n{len(results) - len(failed)}/{len(results)} attempts refused")
    return 1 if failed else 0


def _saved_nothing(attempt) -> None:
    """Run a refused upload and check nothing of it stayed in the upload folders."""
    before = sorted(public.sessions_root().rglob("*"))
    try:
        attempt()
    finally:
        if sorted(public.sessions_root().rglob("*")) != before:
            raise SystemExit("a refused upload left files behind")


def _atlas_attack() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from featent.experiments.atlas import Atlas

    path = Path(tempfile.mkdtemp()) / "big.parquet"
    n = 1_000_000
    pq.write_table(pa.table({"class": ["a"] * n, "layer": ["l"] * n, "fe": [0.0] * n}), path)
    Atlas.load(path, max_rows=mode.limits().max_atlas_rows)


def _over_time_attack() -> tuple[str, str, bool]:
    """A session that has used its compute time opens the inspector (births, activations): refused."""
    os.environ["FEATENT_SESSION_COMPUTE_S"] = "0.001"
    try:
        at = visit({"images": "4"}, "featent/app/views/unit_inspector.py")
    finally:
        del os.environ["FEATENT_SESSION_COMPUTE_S"]
    errors = [e.value for e in at.error]
    return ("compute past the session's time (inspector)", " | ".join(errors) or "(nothing)",
            not at.exception and any("computing per session" in e for e in errors))


def _memory_attack(limits: mode.Limits) -> tuple[str, str, bool]:
    """vgg11:random:K@32 for K = 1..5 through the app's model memo: RSS must stay within the memo's bound."""
    import gc

    import psutil

    from featent.nets import loading

    loading.set_model_cache_limits(limits.max_models, int(limits.max_model_mb * 1e6))
    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    for k in range(1, 6):
        public.check_spec(f"vgg11:random:{k}@32", limits)
        loading.load_model(f"vgg11:random:{k}@32")
        gc.collect()
        peak = max(peak, process.memory_info().rss)
    held = len(loading._CACHE)
    grown = (process.memory_info().rss - before) / 1e6
    bound = limits.max_model_mb + 600  # the memo's bytes plus one model being built and the allocator's slack
    return ("vgg11:random:K@32 for K = 1..5 (memory)",
            f"{held} models kept (limit {limits.max_models} / {limits.max_model_mb:g} MB); RSS +{grown:.0f} MB, "
            f"peak +{(peak - before) / 1e6:.0f} MB", grown <= bound)


def _zip(entries: dict[str, bytes], link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive, archive.open("a/bomb.png", "w",
                                                                                                  force_zip64=True) as f:
        zeros = b"\0" * (1 << 20)
        for _ in range(1024):
            f.write(zeros)
    return buffer.getvalue()


if __name__ == "__main__":
    raise SystemExit(main())
