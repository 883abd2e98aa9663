"""A restarted app renders what it computed before without recomputing: two AppTest runs in two
processes sharing one result store; in the second, any forward pass or birth-time computation fails."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from streamlit.testing.v1 import AppTest

    if sys.argv[2] == "forbid":
        import featent.core.kernel as kernel
        import featent.extract as extract

        def refuse(*args, **kwargs):
            raise RuntimeError("recomputed after the restart")

        extract._forward_chunk = refuse
        kernel.birth_steps_batch = refuse
        kernel.birth_step = refuse

    out = {}
    at = AppTest.from_file(sys.argv[1] + "/app.py", default_timeout=240)
    at.run()
    at.number_input(key="_w_n_images").set_value(12).run()
    at.switch_page("featent/app/views/model_atlas.py")
    at.run()
    if sys.argv[2] == "compute":
        at.number_input(key="atlas_n_classes").set_value(2).run()
        at.button(key="atlas_run").click().run()
    out["atlas_errors"] = [e.value for e in at.exception] + [e.value for e in at.error]
    out["atlas_captions"] = [c.value for c in at.caption]
    out["atlas_table"] = at.dataframe[1].value.to_json() if len(at.dataframe) > 1 else None

    ROLES = '''
    import streamlit as st
    from featent.experiments.roles import unit_roles
    from featent.pipeline import Selection, load_model
    from featent.app import cached

    layer = load_model("demo").layers[-1].name
    selection = Selection("demo", "digits", "3", (layer,), n_images=12)
    table = cached.computed(unit_roles, selection)
    st.write(sorted(table.counts().items()))
    st.write(table.fe_train.tolist())
    '''
    view = AppTest.from_string(ROLES, default_timeout=240)
    view.run()
    out["roles_errors"] = [e.value for e in view.exception] + [e.value for e in view.error]
    out["roles"] = [m.value for m in view.markdown] + [str(j.value) for j in view.json]
    print("RESULT " + json.dumps(out))
    """
)


def _run(store: Path, mode: str) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(store.parent), "FEATENT_CACHE_DIR": str(store),
           "PYTHONPATH": str(ROOT), "FEATENT_DEVICE": "cpu"}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT), mode], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line.removeprefix("RESULT "))


def test_a_restarted_app_shows_earlier_results_without_recomputing(tmp_path):
    store = tmp_path / "store"
    first = _run(store, "compute")
    assert first["atlas_errors"] == [] and first["roles_errors"] == []
    assert any("12 of 60 (class, layer) pairs" in c for c in first["atlas_captions"])
    second = _run(store, "forbid")  # a new process: nothing in memory, recomputing raises
    assert second["atlas_errors"] == [] and second["roles_errors"] == []
    assert any("12 of 60 (class, layer) pairs" in c for c in second["atlas_captions"])
    assert second["atlas_table"] == first["atlas_table"] is not None
    assert second["roles"] == first["roles"] and first["roles"]
