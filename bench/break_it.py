"""Break-it run: hostile inputs against the CLI, the library and the app sidebar.

Every case states what a correct outcome is: a clean error (one readable sentence: a FeatentError
in the library, one ``featent: error:`` line and a non-zero exit in the CLI, one error box and no
exception in the app) or a correct result (checked against an oracle: ripser on the dense ranks
for births, the formula for FE, the 8-bit twin for decoded images). Anything else — a traceback,
a hang (60 s), a stray warning, a wrong number, success where an error was due — is "failed".

    python bench/break_it.py [--no-app]

Prints one table: surface | tried | clean error | correct result | failed, then the failures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pickle
import signal
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS: dict[str, Counter] = {}
FAILURES: list[str] = []


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def record(surface: str, name: str, outcome: str, detail: str = "") -> None:
    RESULTS.setdefault(surface, Counter())
    RESULTS[surface]["tried"] += 1
    RESULTS[surface][outcome] += 1
    if outcome == "failed":
        FAILURES.append(f"[{surface}] {name}: {detail}")


# ---------------------------------------------------------------------------------------------
# fixtures on disk


def _png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(array).save(path)


def build_tree(base: Path) -> dict[str, Path]:
    """Hostile folders and checkpoints, built once."""
    import torch
    from PIL import Image

    out: dict[str, Path] = {}

    def folder(name: str, classes=("a", "b"), n=3, make=None) -> Path:
        root = base / name
        for k, c in enumerate(classes):
            (root / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                # the same pictures in every folder: class k, image i
                grey = np.random.default_rng([k, i]).integers(0, 256, (16, 16), dtype=np.uint8)
                (make or (lambda p, g: _png(p, g)))(root / c / f"{i}.png", grey)
        out[name] = root
        return root

    root = folder("loop2")
    os.symlink(".", root / "a" / "self")
    os.symlink("..", root / "a" / "up")
    root = folder("loop1", classes=("a", "b", "solo"), n=3)
    for f in list((root / "solo").iterdir())[1:]:
        f.unlink()
    os.symlink(".", root / "solo" / "again")
    root = folder("rootlink")
    os.symlink(root, root / "0all")
    root = folder("crosslink")
    os.symlink(root / "b", root / "a" / "to_b")
    os.symlink(root / "a", root / "b" / "to_a")
    root = folder("empties")
    (root / "empty").mkdir()
    (root / "txt").mkdir()
    (root / "txt" / "x.txt").write_text("x")
    folder("sixteen", make=lambda p, g: Image.fromarray(g.astype(np.uint16) * 257).save(p))
    folder("eight")
    root = folder("bomb")
    Image.new("L", (10000, 10000)).save(root / "a" / "big.png")
    root = folder("allempty", classes=())
    (root / "x").mkdir(parents=True)
    root = base / "onlyfiles"
    root.mkdir()
    (root / "a.png").write_bytes(b"x")
    out["onlyfiles"] = root
    root = folder("danglers")
    os.symlink(base / "nowhere", root / "a" / "gone.png")
    os.symlink(base / "nowhere", root / "ghost")
    os.mkfifo(root / "b" / "pipe.png")  # reading it would block
    os.symlink("/dev/zero", root / "b" / "zero.png")  # reading it would never end
    root = folder("modes", classes=("cmyk", "p", "la", "i16b"))
    for f in sorted((root / "cmyk").iterdir()):
        Image.open(f).convert("RGB").convert("CMYK").save(f.with_suffix(".tif"))
        f.unlink()
    for f in (root / "p").iterdir():
        Image.open(f).convert("P").save(f)
    for f in (root / "la").iterdir():
        Image.open(f).convert("LA").save(f)
    for f in sorted((root / "i16b").iterdir()):
        g = np.asarray(Image.open(f))
        Image.frombytes("I;16B", g.shape[::-1], (g.astype(np.uint16) * 257).astype(">u2").tobytes()).save(f.with_suffix(".tif"))
        f.unlink()

    from featent.nets.demo import DEMO_WEIGHTS, DemoNet

    state = torch.load(DEMO_WEIGHTS, map_location="cpu", weights_only=True)
    ck = base / "ck"
    ck.mkdir()
    for name, conv in {
        "f16": lambda v: v.half(), "bf16": lambda v: v.bfloat16(), "f64": lambda v: v.double(),
        "i64": lambda v: (v * 100).round().long(), "nan": lambda v: v * float("nan"),
        "complex": lambda v: v.to(torch.complex64),
    }.items():
        torch.save({k: conv(v) for k, v in state.items()}, ck / f"{name}.pt")
    torch.save({f"module.{k}": v for k, v in state.items()}, ck / "ddp.pt")
    torch.save({"state_dict": state, "epoch": 3}, ck / "wrapped.pt")
    model = DemoNet()
    model.load_state_dict(state)
    torch.save(model, ck / "module.pt")
    (ck / "raw.pt").write_bytes(pickle.dumps(dict(state), protocol=4))
    (ck / "rawnp.pt").write_bytes(pickle.dumps({k: v.numpy() for k, v in state.items()}))
    (ck / "empty.pt").write_bytes(b"")
    (ck / "garbage.pt").write_bytes(b"\x00garbage" * 50)
    (ck / "zip.pt").write_bytes(b"PK\x03\x04" + bytes(60))
    torch.save([1, 2], ck / "list.pt")
    first = next(iter(state))
    torch.save({**state, first: state[first].to_sparse()}, ck / "sparse.pt")
    torch.save({k: torch.empty_like(v, device="meta") for k, v in state.items()}, ck / "meta.pt")
    torch.save({k: v.bool() for k, v in state.items()}, ck / "bool.pt")
    torch.save({**state, 5: torch.zeros(1)}, ck / "intkey.pt")
    torch.save({"a": torch.zeros(2)}, ck / "keys.pt")
    big = {k: v.double() for k, v in state.items()}
    next(iter(big.values())).view(-1)[0] = 1e300
    torch.save(big, ck / "overflow.pt")
    out["ck"] = ck
    return out


# ---------------------------------------------------------------------------------------------
# CLI


def run_cli(argv: list[str]) -> tuple[int | None, str, str, str | None]:
    from featent.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    crash = None
    code = None
    signal.alarm(60)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("default")
            code = main(argv)
    except Hang:
        crash = "hang (> 60 s)"
    except BaseException as exc:  # noqa: BLE001 - this is what we hunt
        crash = f"escaped {type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
    return code, out.getvalue(), err.getvalue(), crash


def cli_case(name: str, argv: list[str], expect: str, check=None, err_has: str | None = None) -> None:
    """expect 'error' (one clean line, non-zero) or 'ok' (exit 0, check(stdout, stderr) true)."""
    code, out, err, crash = run_cli(argv)
    if crash:
        return record("CLI", name, "failed", crash)
    err_lines = [line for line in err.splitlines() if line.strip()]
    if "Traceback" in err:
        return record("CLI", name, "failed", "traceback on stderr")
    if expect == "error":
        if code == 0:
            return record("CLI", name, "failed", "exit 0 where an error was due: " + out[:120])
        errors = [line for line in err_lines if line.startswith("featent: error:")]
        stray = [line for line in err_lines if not line.startswith("featent: ")]
        if len(errors) != 1 or stray:
            return record("CLI", name, "failed", f"stderr is not one clean line: {err_lines[:3]}")
        if err_has and err_has not in errors[0]:
            return record("CLI", name, "failed", f"message lacks {err_has!r}: {errors[0]}")
        return record("CLI", name, "clean error")
    if code != 0:
        return record("CLI", name, "failed", f"exit {code}: {err_lines[:2]}")
    stray = [line for line in err_lines if not line.startswith("featent: warning:")]
    if stray:
        return record("CLI", name, "failed", f"stray stderr: {stray[:2]}")
    if check is not None and not check(out, err):
        return record("CLI", name, "failed", "wrong result: " + out[:200])
    return record("CLI", name, "correct result")


def cli_cases(tree: dict[str, Path], tmp: Path) -> None:
    import json

    ent = ["entropy", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1", "--no-cache", "--quiet"]
    prune = ["prune", "--model", "demo", "--data", "digits"]
    numeric_bad = [
        (ent, "--images", ["0", "-3", "2.5", "1e3", "x", "nan"]),
        (ent, "--seed", ["-1", "4294967296", "1.5", "inf", "99999999999999999999999"]),
        (prune, "--lr", ["nan", "-1", "0", "inf", "abc"]),
        (prune, "--ratio", ["0", "1", "-0.5", "nan", "1.5"]),
        (prune, "--train-per-class", ["0", "-1"]),
        (prune, "--test-per-class", ["0"]),
        (prune, "--epochs", ["-1", "1.5"]),
        (prune, "--images", ["1"]),
        (
            ["rescale", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1"],
            "--scale",
            ["0", "nan", "-2"],
        ),
        (["rescale", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1"], "--unit", ["-1"]),
        (
            ["randomness", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1"],
            "--random-models",
            ["0"],
        ),
        (
            ["randomness", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1"],
            "--first-seed",
            ["-1", "5000000000"],
        ),
        (["train-demo", "--weights-out", str(tmp / "w.pt")], "--label-noise", ["1", "-0.1", "nan"]),
        (["train-demo", "--weights-out", str(tmp / "w.pt")], "--epochs", ["0"]),
        (["roles", "--model", "demo", "--data", "digits", "--layer", "block1_conv1"], "--train-threshold", ["nan", "inf"]),
        (["ablate", "--model", "demo", "--data", "digits", "--class", "1", "--layer", "block1_conv1"], "--random-seed", ["-1"]),
    ]
    for base, flag, values in numeric_bad:
        for value in values:
            cli_case(f"{base[0]} {flag} {value}", base + [f"{flag}={value}"], "error", err_has=flag)
    cli_case("entropy --images far above the class size gives the whole class",
             ent + ["--images", "99999999999999999999999999", "--format", "json"], "ok",
             lambda out, err: json.loads(out)["images"] == 144)
    for spec in ["demo:random:99999999999999999999999", "demo:random:-1", "demo:random:4294967296", "demo:random:x"]:
        cli_case(f"layers --model {spec}", ["layers", "--model", spec], "error")
    for spec in ["", "nope", "demo:random:1:2", "demo@", "vgg11:random@8"]:
        cli_case(f"layers --model {spec!r}", ["layers", "--model", spec], "error")

    def layers_ok(out: str, err: str) -> bool:
        return "block1_conv1" in out

    ck = tree["ck"]
    for name in ("f16", "bf16", "f64", "i64", "ddp", "wrapped", "nan", "sparse", "bool"):
        cli_case(f"layers --weights {name}", ["layers", "--model", "demo", "--weights", str(ck / f"{name}.pt")], "ok", layers_ok)
    for name in ("module", "raw", "rawnp", "empty", "garbage", "zip", "list", "keys", "complex", "overflow", "meta", "intkey"):
        cli_case(f"layers --weights {name}", ["layers", "--model", "demo", "--weights", str(ck / f"{name}.pt")], "error")
    cli_case("layers --weights <folder>", ["layers", "--model", "demo", "--weights", str(ck)], "error", err_has="is a folder")
    cli_case("layers --weights missing", ["layers", "--model", "demo", "--weights", str(ck / "nope.pt")], "error")
    cli_case("entropy nan weights", ent[:4] + ["--weights", str(ck / "nan.pt")] + ent[4:] + ["--images", "3"], "error")

    def classes_are(expected):
        def check(out: str, err: str) -> bool:
            data = json.loads(out)
            return data["classes"] == expected
        return check

    for name, expected in [("loop2", ["a", "b"]), ("loop1", ["a", "b"]), ("rootlink", ["a", "b"]),
                           ("crosslink", ["a", "b"]), ("empties", ["a", "b"]), ("sixteen", ["a", "b"]),
                           ("danglers", ["a", "b"]), ("modes", ["cmyk", "i16b", "la", "p"])]:
        cli_case(f"classes {name}", ["classes", "--data", str(tree[name]), "--format", "json"], "ok", classes_are(expected))
    for name in ("allempty", "onlyfiles"):
        cli_case(f"classes {name}", ["classes", "--data", str(tree[name])], "error")
    cli_case("classes missing", ["classes", "--data", str(tmp / "nope")], "error")
    cli_case("entropy next to a pipe and /dev/zero", ["entropy", "--model", "demo", "--data", str(tree["danglers"]),
                                                      "--class", "b", "--layer", "block1_conv1", "--images", "9",
                                                      "--no-cache", "--quiet", "--format", "json"], "ok",
             lambda out, err: json.loads(out)["images"] == 3)
    cli_case("classes a file", ["classes", "--data", str(ck / "f16.pt")], "error")

    def fe_of(name: str) -> float:
        code, out, _err, _crash = run_cli(["entropy", "--model", "demo", "--data", str(tree[name]), "--class", "a",
                                         "--layer", "block1_conv1", "--images", "3", "--no-cache", "--quiet", "--format", "json"])
        return json.loads(out)["mean_feature_entropy"] if code == 0 else float("nan")

    fe8 = fe_of("eight")
    cli_case("entropy 16-bit folder equals its 8-bit copy",
             ["entropy", "--model", "demo", "--data", str(tree["sixteen"]), "--class", "a", "--layer", "block1_conv1",
              "--images", "3", "--no-cache", "--quiet", "--format", "json"],
             "ok", lambda out, err: abs(json.loads(out)["mean_feature_entropy"] - fe8) < 1e-9)
    cli_case("entropy on a one-image class (inflated by a self link before)",
             ["entropy", "--model", "demo", "--data", str(tree["loop1"]), "--class", "solo", "--layer", "block1_conv1",
              "--images", "3", "--no-cache", "--quiet"], "error", err_has="'solo'")
    cli_case("entropy on an empty class", ["entropy", "--model", "demo", "--data", str(tree["empties"]), "--class", "txt",
                                            "--layer", "block1_conv1", "--images", "3", "--no-cache", "--quiet"], "error")
    cli_case("entropy in a folder with an empty class", ["entropy", "--model", "demo", "--data", str(tree["empties"]),
                                                          "--class", "a", "--layer", "block1_conv1", "--images", "3",
                                                          "--no-cache", "--quiet"], "ok")
    cli_case("entropy with a decompression bomb among the files",
             ["entropy", "--model", "demo", "--data", str(tree["bomb"]), "--class", "a", "--layer", "block1_conv1",
              "--images", "5", "--no-cache", "--quiet", "--format", "json"], "ok",
             lambda out, err: json.loads(out)["images"] == 3)

    # the store
    store_dir = tmp / "store"
    store_dir.mkdir()
    os.environ["FEATENT_CACHE_DIR"] = str(store_dir)
    try:
        (store_dir / "cache.db").write_bytes(b"garbage" * 100)
        cli_case("cache --clear on a damaged store", ["cache", "--clear", "--format", "json"], "ok",
                 lambda out, err: json.loads(out)["entries"] == 0 and "moved to" in err)
        (store_dir / "cache.db").write_bytes(b"\x00" * 4096)
        cli_case("entropy with a damaged store", ent[:-2] + ["--images", "3", "--quiet", "--format", "json"], "ok",
                 lambda out, err: json.loads(out)["images"] == 3)
        cli_case("entropy after the repair uses the store", ent[:-2] + ["--images", "3", "--quiet"], "ok",
                 lambda out, err: "warning" not in err)
        (store_dir / "cache.db").unlink()
        (store_dir / "cache.db").mkdir()
        cli_case("cache with cache.db a folder", ["cache"], "error")
        os.rmdir(store_dir / "cache.db")
    finally:
        del os.environ["FEATENT_CACHE_DIR"]
    os.environ["FEATENT_CACHE_DIR"] = str(ck / "f16.pt")
    try:
        cli_case("cache dir is a file", ["cache"], "error", err_has="writable")
    finally:
        del os.environ["FEATENT_CACHE_DIR"]


# ---------------------------------------------------------------------------------------------
# library


def lib_case(name: str, fn, expect: str, check=None) -> None:
    """expect 'error' (a FeatentError with a one-line message) or 'ok' (check(result) true)."""
    from featent.errors import FeatentError

    signal.alarm(60)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn()
    except Hang:
        return record("library", name, "failed", "hang")
    except FeatentError as exc:
        signal.alarm(0)
        if expect != "error":
            return record("library", name, "failed", f"refused a good input: {exc}")
        if "\n" in str(exc) or len(str(exc)) > 400:
            return record("library", name, "failed", "message is not one sentence")
        return record("library", name, "clean error")
    except Exception as exc:  # noqa: BLE001
        signal.alarm(0)
        return record("library", name, "failed", f"raw {type(exc).__name__}: {str(exc)[:100]}")
    signal.alarm(0)
    stray = [w for w in caught if not w.category.__module__.startswith("featent")]
    if stray:
        return record("library", name, "failed", f"stray warning: {stray[0].category.__name__}: {str(stray[0].message)[:80]}")
    if expect == "error":
        return record("library", name, "failed", f"accepted: {str(result)[:80]}")
    if check is not None and not check(result):
        return record("library", name, "failed", f"wrong result: {str(result)[:80]}")
    return record("library", name, "correct result")


def library_cases(tree: dict[str, Path]) -> None:
    import torch

    from featent.core.entropy import feature_entropy, ranking_score, selective_rate
    from featent.core.topology import birth_time, birth_time_reference, birth_times, validate_unit
    from featent.data import ImageFolderDataset
    from featent.data.folder import decode_image
    from featent.store import ResultStore

    rng = np.random.default_rng(12)

    def oracle(unit: np.ndarray) -> int:
        ranks = np.unique(unit, return_inverse=True)[1].reshape(unit.shape).astype(np.float64)
        return birth_time_reference(ranks)

    # units: accepted kinds, checked against the oracle
    for trial in range(40):
        m = int(rng.integers(2, 9))
        small = rng.integers(0, 5, (m, m))
        base = int(rng.choice([2**53 + 1, 2**60, 2**62, 2**63 - 10]))
        big = small.astype(np.int64) + np.int64(base)
        lib_case(f"int64 unit near 2**{int(np.log2(base))} #{trial}", lambda big=big: birth_time(big), "ok",
                 lambda r, small=small: r == oracle(small))
        ubig = small.astype(np.uint64) + np.uint64(2**64 - 8)
        lib_case(f"uint64 unit at the top #{trial}", lambda u=ubig: birth_times(u[None])[0], "ok",
                 lambda r, small=small: r == oracle(small))
    four = np.zeros((4, 4), np.int64)
    four[0, 1], four[1, 2], four[2, 3], four[3, 0] = 2**62 + 3, 2**62 + 2, 2**62 + 1, 2**62
    lib_case("4x4 cycle at 2**62", lambda: birth_time(four), "ok", lambda r: r == 4)
    unit = rng.random((6, 6))
    truth = oracle(unit)
    for label, make in {
        "torch requires_grad": lambda: torch.tensor(unit, requires_grad=True),
        "torch float64": lambda: torch.tensor(unit),
        "torch Parameter": lambda: torch.nn.Parameter(torch.tensor(unit)),
        "big-endian >f8": lambda: unit.astype(">f8"),
        "Fortran order": lambda: np.asfortranarray(unit),
        "non-contiguous view": lambda: np.repeat(unit, 2, axis=1)[:, ::2],
        "nested list": lambda: unit.tolist(),
        "long double": lambda: unit.astype(np.longdouble),
    }.items():
        lib_case(f"unit as {label}", lambda make=make: birth_time(make()), "ok", lambda r: r == truth)
    for label, make in {"bfloat16": torch.bfloat16, "float16": torch.float16}.items():
        t = torch.tensor(unit).to(make)
        lib_case(f"unit as torch {label}", lambda t=t: birth_time(t), "ok",
                 lambda r, t=t: r == oracle(t.float().numpy()))
    bools = rng.random((6, 6)) > 0.5
    lib_case("bool unit", lambda: birth_time(bools), "ok", lambda r: r == oracle(bools.astype(float)))
    for label, value in {
        "scalar np.float64": np.float64(3), "python int": 3, "string": "abc", "None": None, "object": object(),
        "ragged list": [[1, 2], [3]], "object array": np.array([[1, None], [2, 3]], dtype=object),
        "string array": np.array([["a", "b"], ["c", "d"]]), "complex": np.eye(3) * 1j,
        "masked": np.ma.array(np.eye(3), mask=np.eye(3)), "3-D": np.zeros((2, 3, 3)), "1x1": np.zeros((1, 1)),
        "non-square": np.zeros((3, 4)), "NaN": np.array([[0.0, np.nan], [1.0, 0.0]]),
        "inf >f4": np.array([[0.0, np.inf], [1.0, 0.0]], dtype=">f4"), "empty": np.zeros((0, 0)),
        "torch complex": torch.eye(3) * 1j, "torch NaN bf16": torch.full((3, 3), float("nan"), dtype=torch.bfloat16),
    }.items():
        lib_case(f"unit {label}", lambda value=value: birth_time(value), "error")
        lib_case(f"validate_unit {label}", lambda value=value: validate_unit(value), "error")
    for n in (0, -3, True, 1.5, "2"):
        lib_case(f"n_threads={n!r}", lambda n=n: birth_times(rng.random((2, 4, 4)), n_threads=n), "error")
    lib_case("n_threads=1", lambda: birth_times(np.stack([unit, unit]), n_threads=1), "ok",
             lambda r: list(r) == [truth, truth])

    # births and p
    def fe(b):
        b = np.asarray(b)
        n = b.size
        _, counts = np.unique(b[b > 0], return_counts=True)
        eps = np.count_nonzero(b) / n
        return (1 - eps) * np.log(n) if eps < 0.1 else float(-(counts / n * np.log(counts / n)).sum())

    for trial in range(20):
        b = rng.integers(0, 6, int(rng.integers(1, 40)))
        lib_case(f"FE random births #{trial}", lambda b=b: float(feature_entropy(b)), "ok", lambda r, b=b: abs(r - fe(b)) < 1e-12)
    lib_case("FE of births as whole floats", lambda: float(feature_entropy([3.0, 3.0, 0.0, 5.0])), "ok",
             lambda r: abs(r - fe([3, 3, 0, 5])) < 1e-12)
    lib_case("FE of torch births", lambda: float(feature_entropy(torch.tensor([3, 3, 0, 5]))), "ok",
             lambda r: abs(r - fe([3, 3, 0, 5])) < 1e-12)
    for label, value in {"strings": ["a", "b"], "objects": [object(), 1], "ragged": [[1, 2], [3]], "bool": [True, False],
                         "complex": [1 + 1j, 2], "1.5": [1.5, 2], "1e30": [1e30, 0], "negative": [-1, 2], "NaN": [np.nan, 1],
                         "empty": [], "scalar": 4, "3-D": np.zeros((2, 2, 2), int), "None": None}.items():
        lib_case(f"births {label}", lambda value=value: feature_entropy(value), "error")
        lib_case(f"selective_rate {label}", lambda value=value: selective_rate(value), "error")
    for p in ("0.1", np.nan, 0, -1, 1.5, None, True):
        lib_case(f"p={p!r}", lambda p=p: ranking_score([1, 2, 0], p), "error")

    # folders and images
    def counts(name):
        data = ImageFolderDataset(tree[name])
        return {c: data.count(c) for c in data.classes}, data.skipped

    lib_case("two loop links", lambda: counts("loop2"), "ok", lambda r: r == ({"a": 3, "b": 3}, 2))
    lib_case("self link on a one-image class", lambda: ImageFolderDataset(tree["loop1"]).sample("solo"), "error")
    lib_case("class linked to the root", lambda: counts("rootlink"), "ok", lambda r: r == ({"a": 3, "b": 3}, 1))
    lib_case("classes linked to each other", lambda: counts("crosslink"), "ok", lambda r: r == ({"a": 3, "b": 3}, 2))
    lib_case("empty and txt classes", lambda: counts("empties"), "ok", lambda r: r == ({"a": 3, "b": 3}, 1))
    lib_case("dangling links, a pipe and /dev/zero", lambda: counts("danglers"), "ok", lambda r: r == ({"a": 3, "b": 3}, 3))
    lib_case(
        "sampling next to a pipe", lambda: ImageFolderDataset(tree["danglers"]).sample("b", n=9), "ok", lambda r: len(r) == 3
    )
    lib_case("only empty classes", lambda: ImageFolderDataset(tree["allempty"]), "error")
    lib_case("no class folders", lambda: ImageFolderDataset(tree["onlyfiles"]), "error")

    def same_as_8bit(name: str, cls: str):
        a = ImageFolderDataset(tree[name]).sample(cls, n=3, size=16)
        return a

    eight = ImageFolderDataset(tree["eight"])
    for cls in ("a", "b"):
        ref = eight.sample(cls, n=3, size=16)
        lib_case(f"16-bit folder class {cls}", lambda cls=cls: ImageFolderDataset(tree["sixteen"]).sample(cls, n=3, size=16),
                 "ok", lambda r, ref=ref: float((r.images - ref.images).abs().max()) < 0.005)
    modes = ImageFolderDataset(tree["modes"])
    for cls in modes.classes:
        lib_case(f"decode mode folder {cls}", lambda cls=cls: modes.sample(cls, n=3, size=16), "ok",
                 lambda r: r.images.shape == (3, 3, 16, 16) and 0.2 < float(r.images.mean()) < 0.8)
    lib_case("decompression bomb", lambda: decode_image(tree["bomb"] / "a" / "big.png", 16), "ok", lambda r: r is None)

    # checkpoints
    from featent.nets.checkpoints import load_state, read_checkpoint
    from featent.nets.demo import DemoNet

    ck = tree["ck"]
    for name in ("f16", "bf16", "f64", "i64", "ddp", "wrapped", "sparse", "bool"):
        lib_case(f"checkpoint {name}", lambda name=name: load_state(DemoNet(), read_checkpoint(ck / f"{name}.pt"), name), "ok")
    for name in ("module", "raw", "rawnp", "empty", "garbage", "zip", "list", "keys", "complex", "overflow", "meta", "intkey"):
        lib_case(f"checkpoint {name}", lambda name=name: load_state(DemoNet(), read_checkpoint(ck / f"{name}.pt"), name), "error")
    lib_case("checkpoint folder", lambda: read_checkpoint(ck), "error")

    # store
    with tempfile.TemporaryDirectory() as raw:
        folder = Path(raw)
        for k, content in enumerate([b"garbage" * 100, b"\x00" * 4096, b"SQLite format 3\x00" + b"\xff" * 4000]):
            sub = folder / f"s{k}"
            ResultStore(sub).close()
            (sub / "cache.db").write_bytes(content)

            def reopen(sub=sub):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    store = ResultStore(sub)
                store.put_births("featent-v1|x", np.arange(3))
                return store.repaired is not None and store.get_births("featent-v1|x").tolist() == [0, 1, 2]

            lib_case(f"damaged store #{k}", reopen, "ok", lambda r: r is True)
        lib_case("store size limit 10", lambda: ResultStore(folder / "t", size_limit=10), "error")
        lib_case("store key not a string", lambda: ResultStore(folder / "t").put_births(5, np.zeros(2)), "error")
        lib_case(
            "store object array", lambda: ResultStore(folder / "t").put_births("featent-v1|x", np.array([object()])), "error"
        )


# ---------------------------------------------------------------------------------------------
# app sidebar


def app_case(name: str, steps, expect: str, check=None, typed_model: str | None = None) -> None:
    from streamlit.testing.v1 import AppTest

    signal.alarm(120)
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
        if typed_model is not None:
            at.session_state["sel_model"] = typed_model  # as if typed into the model box
        at.run()
        steps(at)
    except Hang:
        return record("app sidebar", name, "failed", "hang")
    except Exception as exc:  # noqa: BLE001
        return record("app sidebar", name, "failed", f"test harness: {type(exc).__name__}: {exc}")
    finally:
        signal.alarm(0)
    if at.exception:
        return record("app sidebar", name, "failed", f"exception on the page: {at.exception[0].value[:100]}")
    errors = [e.value for e in at.error]
    if expect == "error":
        if len(errors) != 1 or "\n" in errors[0] or errors[0].startswith("Unexpected error"):
            return record("app sidebar", name, "failed", f"errors shown: {errors[:2]}")
        return record("app sidebar", name, "clean error")
    if errors:
        return record("app sidebar", name, "failed", f"errors shown: {errors[:2]}")
    if check is not None and not check(at):
        return record("app sidebar", name, "failed", "wrong result")
    return record("app sidebar", name, "correct result")


def app_cases(tree: dict[str, Path]) -> None:
    import streamlit as st

    def folder(path):
        def steps(at):
            at.number_input(key="_w_n_images").set_value(3).run()
            at.radio(key="_w_data_mode").set_value("Image folder").run()
            at.text_input(key="_w_data_path").input(str(path)).run()
        return steps

    def checkpoint(path, page=None):
        def steps(at):
            at.number_input(key="_w_n_images").set_value(3).run()
            at.radio(key="_w_weights_mode").set_value("Checkpoint path").run()
            at.text_input(key="_w_weights_path").input(str(path)).run()
            if page:
                at.switch_page(page).run()
        return steps

    def classes_are(expected):
        return lambda at: list(at.selectbox(key="_w_class_name").options) == expected

    for name, expected in [("loop2", ["a", "b"]), ("rootlink", ["a", "b"]), ("empties", ["a", "b"]),
                           ("sixteen", ["a", "b"]), ("modes", ["cmyk", "i16b", "la", "p"])]:
        st.cache_data.clear()
        st.cache_resource.clear()
        app_case(f"folder {name}", folder(tree[name]), "ok", classes_are(expected))
    for name in ("allempty", "onlyfiles"):
        app_case(f"folder {name}", folder(tree[name]), "error")
    app_case("folder missing", folder(tree["ck"] / "nope"), "error")
    app_case("folder is a file", folder(tree["ck"] / "f16.pt"), "error")
    app_case("16-bit folder on a page", lambda at: (folder(tree["sixteen"])(at),
                                                      at.switch_page("featent/app/views/birth_distribution.py").run()), "ok")
    ck = tree["ck"]
    for name in ("f16", "f64", "i64", "ddp"):
        app_case(f"checkpoint {name}", checkpoint(ck / f"{name}.pt"), "ok")
    for name in ("module", "raw", "empty", "garbage", "keys", "overflow"):
        app_case(f"checkpoint {name}", checkpoint(ck / f"{name}.pt"), "error")
    app_case("checkpoint is a folder", checkpoint(ck), "error")
    app_case("NaN checkpoint on a page", checkpoint(ck / "nan.pt", "featent/app/views/birth_distribution.py"), "error")

    for spec in ("demo:random:99999999999999999999999", "nope", "demo:random:-1"):
        app_case(f"typed spec {spec}", lambda at: None, "error", typed_model=spec)


# ---------------------------------------------------------------------------------------------
# the store and result files: damage, tampering, read-only folders, partial files, concurrency


def guarded_case(surface: str, name: str, fn) -> None:
    """``fn()`` returns "correct result" or "clean error", or a failure text; exceptions are failures."""
    signal.alarm(120)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome = fn()
    except Hang:
        outcome = "hang (> 120 s)"
    except Exception as exc:  # noqa: BLE001 - this is what we hunt
        outcome = f"raw {type(exc).__name__}: {str(exc)[:100]}"
    finally:
        signal.alarm(0)
    if outcome in ("correct result", "clean error"):
        record(surface, name, outcome)
    else:
        record(surface, name, "failed", str(outcome))


def _filled_store(folder: Path) -> None:
    from featent.store import ResultStore

    store = ResultStore(folder)
    for i in range(40):
        store.put_births(f"featent-v1|births|w|d|c|l|50|{i}", np.arange(i, i + 50, dtype=np.int32))
    store.put_births("featent-v1|births|w|d|c|l|big|0", np.arange(20000, dtype=np.int32))
    store.close()


def _store_works_and_clears(folder: Path) -> str:
    from featent.store import ResultStore

    store = ResultStore(folder)
    for i in range(40):
        got = store.get_births(f"featent-v1|births|w|d|c|l|50|{i}")
        if got is not None and not np.array_equal(got, np.arange(i, i + 50, dtype=np.int32)):
            return f"wrong value served for entry {i}"
    store.put_births("featent-v1|x", np.ones(3, np.int32))
    if store.get_births("featent-v1|x").tolist() != [1, 1, 1]:
        return "a write did not read back"
    store.close()
    os.environ["FEATENT_CACHE_DIR"] = str(folder)
    code, _, err, crash = run_cli(["cache", "--clear", "--format", "json"])
    if crash or code != 0:
        return f"cache --clear: exit {code} {crash or err.strip()[:120]}"
    if ResultStore(folder).stats()["entries"] != 0:
        return "cache --clear left entries"
    return "correct result"


def store_cases(tmp: Path) -> None:
    import random
    import sqlite3
    import stat
    import threading

    import diskcache

    from featent.births import BirthsKey
    from featent.data import load_dataset
    from featent.errors import FeatentError
    from featent.experiments.atlas import Atlas
    from featent.experiments.runs import record_run, stored_runs
    from featent.experiments.sweep import sweep
    from featent.pipeline import Selection, compute_births, load_model
    from featent.store import ResultStore

    surface = "store/files"
    saved = os.environ.get("FEATENT_CACHE_DIR")
    base = tmp / "store-cases"
    base.mkdir()

    def damaged(name: str, damage) -> None:
        def case() -> str:
            folder = base / name
            _filled_store(folder)
            damage(folder / "cache.db")
            return _store_works_and_clears(folder)

        guarded_case(surface, name, case)

    for seed in range(20):
        def flips(index: Path, seed: int = seed) -> None:
            data = bytearray(index.read_bytes())
            rng = random.Random(seed)
            for _ in range(400):
                data[rng.randrange(len(data))] = rng.randrange(256)
            index.write_bytes(bytes(data))
        damaged(f"cache.db with 400 random bytes (seed {seed})", flips)
    damaged("cache.db truncated to a third", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 3]))
    damaged("cache.db zero-length", lambda p: p.write_bytes(b""))
    damaged("cache.db a wrong page size", lambda p: p.write_bytes(p.read_bytes()[:16] + b"\x00\x03" + p.read_bytes()[18:]))

    def foreign(p: Path) -> None:
        p.unlink()
        other = sqlite3.connect(p)
        other.execute("CREATE TABLE Cache (name TEXT, price REAL)")
        other.commit()
        other.close()
    damaged("cache.db a foreign SQLite file", foreign)

    def undecodable(p: Path) -> None:
        other = sqlite3.connect(p)
        other.execute("UPDATE Settings SET value = CAST(X'BAFF00BA' AS TEXT) WHERE key = 'eviction_policy'")
        other.commit()
        other.close()
    damaged("cache.db with text that is not UTF-8", undecodable)

    # values that do not belong to their key or shape: a miss, then recomputed to the right numbers
    layer, images = "block1_conv1", 8
    model, dataset = load_model("demo"), load_dataset("digits")

    def key(class_name: str, seed: int = 0) -> str:
        return BirthsKey(model.fingerprint, dataset.fingerprint, class_name, layer, images, seed).text()

    def truth(class_name: str, seed: int = 0) -> np.ndarray:
        return compute_births(Selection("demo", "digits", class_name, (layer,), n_images=images, seed=seed))[layer]

    def recomputed(store, class_name: str, seed: int = 0) -> bool:
        got = compute_births(Selection("demo", "digits", class_name, (layer,), n_images=images, seed=seed), store)[layer]
        return np.array_equal(got, truth(class_name, seed))

    def short_value() -> str:
        store = ResultStore(base / "short")
        good = truth("1")
        store.put_births(key("1"), good[:3].copy())
        if store.get_births(key("1"), shape=good.shape) is not None:
            return "a short value was served"
        return "correct result" if recomputed(store, "1") else "wrong births after recomputing"

    def tampered_key() -> str:
        folder = base / "tampered"
        store = ResultStore(folder)
        store.put_births(key("1", 0), truth("1", 0))
        store.close()
        index = sqlite3.connect(folder / "cache.db")
        index.execute("UPDATE Cache SET key = ? WHERE key = ?", (key("1", 1), key("1", 0)))
        index.commit()
        index.close()
        store = ResultStore(folder)
        if store.get_births(key("1", 1)) is not None:
            return "seed-0 births served for seed 1"
        return "correct result" if recomputed(store, "1", 1) else "wrong births after recomputing"

    def swapped() -> str:
        folder = base / "swapped"
        store = ResultStore(folder)
        store.put_births(key("1"), truth("1"))
        store.put_births(key("7"), truth("7"))
        store.close()
        raw = diskcache.Cache(str(folder))
        a, b = raw.get(key("1")), raw.get(key("7"))
        raw.set(key("1"), b)
        raw.set(key("7"), a)
        raw.close()
        store = ResultStore(folder)
        if store.get_births(key("1")) is not None or store.get_births(key("7")) is not None:
            return "a swapped value was served"
        return "correct result" if recomputed(store, "7") and recomputed(store, "1") else "wrong births"

    guarded_case(surface, "stored births 3 of 8 rows, valid checksum", short_value)
    guarded_case(surface, "stored key seed 0 -> 1 (one bit)", tampered_key)
    guarded_case(surface, "two stored values swapped", swapped)

    def orphans() -> str:
        folder = base / "orphans"
        _filled_store(folder)
        for i in range(3):
            orphan = folder / "ab" / f"c{i}" / "0123.val"
            orphan.parent.mkdir(parents=True)
            orphan.write_bytes(b"x" * 160_000)
        os.environ["FEATENT_CACHE_DIR"] = str(folder)
        code, out, _, crash = run_cli(["cache", "--check", "--format", "json"])
        if crash or code != 0 or '"orphans": 3' not in out:
            return f"cache --check: {crash or out[:120]}"
        code, out, _, crash = run_cli(["cache", "--clear", "--format", "json"])
        left = list(folder.glob("*/*/*.val"))
        return "correct result" if code == 0 and not left else f"{len(left)} value files left by --clear"

    guarded_case(surface, "3 orphan value files, cache --check and --clear", orphans)

    def read_only(mount: bool) -> str:
        import featent.store as store_module

        folder = base / ("ro-mount" if mount else "ro-folder")
        _filled_store(folder)
        real = store_module._writable
        if mount:
            store_module._writable = lambda path: False  # type: ignore[assignment]
        else:
            folder.chmod(0o500)
        before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.rglob("*"))
        try:
            store = ResultStore(folder)
            hit = store.get_births("featent-v1|births|w|d|c|l|50|3")
            store.put_births("featent-v1|new", np.ones(2, np.int32))
            store.close()
            os.environ["FEATENT_CACHE_DIR"] = str(folder)
            code, _, _, crash = run_cli(["cache"])
            mode = stat.S_IMODE(folder.stat().st_mode)
            after = sorted((p.name, p.stat().st_mtime_ns) for p in folder.rglob("*"))
        finally:
            store_module._writable = real  # type: ignore[assignment]
            folder.chmod(0o700)
        if hit is None or not np.array_equal(hit, np.arange(3, 53, dtype=np.int32)):
            return "a stored hit was not served"
        if crash or code != 0:
            return f"featent cache: exit {code} {crash}"
        if after != before:
            return "something was written"
        return "correct result" if mount or mode == 0o500 else f"folder mode changed to {oct(mode)}"

    guarded_case(surface, "read-only folder (0500): hits served, nothing written, mode kept", lambda: read_only(False))
    guarded_case(surface, "read-only mount: hits served, nothing written", lambda: read_only(True))

    # result files
    atlas = sweep("demo", "digits", classes=["1", "7"], layers=[layer], images=images,
                  store=ResultStore(base / "atlas-store"), units=True)

    def partial_atlas(suffix: str, cut: float) -> str:
        path = atlas.save(base / f"atlas{suffix}")
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * cut)])
        try:
            Atlas.load(path)
        except FeatentError as exc:
            return "clean error" if "\n" not in str(exc) else "message is not one sentence"
        return "a partial atlas was read"

    for suffix in (".csv", ".parquet"):
        for cut in (0.5, 0.95):
            guarded_case(surface, f"atlas{suffix} cut to {cut:.0%}", lambda s=suffix, c=cut: partial_atlas(s, c))

    def failed_out() -> str:
        target = base / "no-such-folder" / "out.csv"
        os.environ["FEATENT_CACHE_DIR"] = str(base / "out-store")
        code, _, err, crash = run_cli(["models", "--out", str(target)])
        if crash or code != 1 or len(err.strip().splitlines()) != 1:
            return f"exit {code} {crash or err[:120]}"
        return "clean error" if not target.exists() and not list(base.glob("**/.out.csv*")) else "a file was left"

    guarded_case(surface, "--out into a missing folder leaves no file", failed_out)

    def runs_of_two_processes() -> str:
        import multiprocessing

        folder = base / "runs"
        ResultStore(folder).close()

        def writer(p: int) -> None:
            store = ResultStore(folder)
            start = threading.Barrier(8)

            def one(i: int) -> None:
                start.wait()
                record_run(store, {"model": "demo", "classes": [f"p{p}-t{i}"]})

            threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        context = multiprocessing.get_context("fork")
        procs = [context.Process(target=writer, args=(p,)) for p in range(2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        kept = len(stored_runs(ResultStore(folder)))
        return "correct result" if kept == 16 else f"{kept} of 16 run records kept"

    for k in range(3):
        guarded_case(surface, f"8 threads x 2 processes record runs (round {k})", runs_of_two_processes)

    if saved is None:
        os.environ.pop("FEATENT_CACHE_DIR", None)
    else:
        os.environ["FEATENT_CACHE_DIR"] = saved


def path_cases() -> None:
    from featent.data import load_dataset
    from featent.nets.checkpoints import read_checkpoint

    long = "/" + "e" * 300
    cli_case("classes --data with a 300-character name", ["classes", "--data", long], "error", err_has="too long")
    cli_case("layers --weights with a 300-character name", ["layers", "--model", "demo", "--weights", long + ".pt"],
             "error", err_has="too long")
    cli_case("classes --data through a file", ["classes", "--data", "/etc/passwd/x"], "error", err_has="not a folder")
    cli_case("layers --weights through a file", ["layers", "--model", "demo", "--weights", "/etc/passwd/w.pt"],
             "error", err_has="not a folder")
    lib_case("data folder with a NUL", lambda: load_dataset("/tmp/a\x00b"), "error")
    lib_case("weights file with a NUL", lambda: read_checkpoint("/tmp/w\x00.pt"), "error")
    lib_case("data folder with a 300-character name", lambda: load_dataset(long), "error")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-app", action="store_true", help="skip the app sidebar (AppTest) cases")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        os.environ.setdefault("FEATENT_CACHE_DIR", str(tmp / "default-store"))
        tree = build_tree(tmp / "tree")
        cli_cases(tree, tmp)
        from featent.data import clear_dataset_cache

        clear_dataset_cache()
        library_cases(tree)
        store_cases(tmp)
        path_cases()
        if not args.no_app:
            app_cases(tree)
    print(f"{'surface':<12} {'tried':>6} {'clean error':>12} {'correct result':>15} {'failed':>7}")
    for surface, c in RESULTS.items():
        print(f"{surface:<12} {c['tried']:>6} {c['clean error']:>12} {c['correct result']:>15} {c['failed']:>7}")
    total = sum(RESULTS.values(), Counter())
    print(f"{'total':<12} {total['tried']:>6} {total['clean error']:>12} {total['correct result']:>15} {total['failed']:>7}")
    for line in FAILURES:
        print("FAILED", line)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
