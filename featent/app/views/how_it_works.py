"""How it works: the method told in order on a unit small enough to edit, one stage at a time (paper Fig. 2-4)."""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import pandas as pd
import streamlit as st

from featent.app import cached, links, toy
from featent.app.errors import shown_in_place
from featent.app.layout import chart, figure_downloads, page_header
from featent.core import cycles, entropy, topology
from featent.errors import UnitError
from featent.plots import animation, filtration
from featent.plots import births as birth_plots
from featent.plots import unit as unit_plots


def render() -> None:
    page_header("How it works", "From one unit to its feature entropy, in nine stages. Each figure has its sentence beside "
                "it; ▶ Play runs in your browser.", icon=":material/school:")

    STAGES = ("1 Unit", "2 Top-v entries", "3 Graph", "4 Complex", "5 Born hole", "6 Betti curves",
              "7 Birth time", "8 Class", "9 Entropy")
    EXAMPLES = {"Paper's toy (Fig. 2)": "toy", "Random unit": "random"}
    N_COPIES = 100
    P = entropy.DEFAULT_P
    FIG_HEIGHT = 400

    # ---------------------------------------------------------------- the unit (controls on one line)
    c_example, c_m, c_seed, c_edit = st.columns([2.2, 1.2, 1, 1.4], vertical_alignment="bottom")
    example = c_example.radio("Example", list(EXAMPLES), horizontal=True, key="hiw_example")
    if example is None:  # a radio with options and no index=None always has a choice
        st.stop()
    kind = EXAMPLES[example]
    if kind == "random":
        m = c_m.slider("Size m", 3, 10, 5, key="hiw_m")
        seed = int(c_seed.number_input("Seed", 0, 10_000, 0, key="hiw_seed"))
        start_unit = toy.random_unit(m, seed)
        editor_key = f"hiw_editor_random_{m}_{seed}"
    else:
        start_unit, editor_key, seed = toy.PAPER_TOY, "hiw_editor_toy", 0
    with c_edit.popover("Edit the unit", icon=":material/edit:", width="stretch"):
        st.caption("The unit U (an m x m activation map). Edit any value; every stage follows.")
        columns = [str(j) for j in range(1, start_unit.shape[0] + 1)]
        edited = st.data_editor(pd.DataFrame(start_unit, columns=columns, index=columns), key=editor_key,
                                column_config={c: st.column_config.NumberColumn(c, format="%.2f", step=0.01) for c in columns})

    with shown_in_place():
        values_in = edited.to_numpy(dtype=np.float64)
        if np.isnan(values_in).any():
            raise UnitError("Every cell of the unit needs a number: fill in the empty cells.")
        unit = topology.validate_unit(values_in)
    m = unit.shape[0]
    n_steps = m * m
    curves = cached.betti_curves(unit)
    birth = topology.birth_time(unit)
    cycle = cycles.hole_cycle(unit, birth)

    # the step a stage starts on (a link's step wins once)
    link = {k: v for k, v in links.apply_link(()).items() if k == "step"}
    if "step" in link:
        st.session_state["hiw_step"] = int(cast(int, link["step"]))  # links.parse reads the step as an int
    if not 1 <= int(st.session_state.get("hiw_step", 0) or 0) <= n_steps:
        st.session_state["hiw_step"] = birth if birth else 1

    # ---------------------------------------------------------------- stage navigation
    n1, n2, n3 = st.columns([0.5, 8, 0.5], vertical_alignment="center")
    if "hiw_stage" not in st.session_state:
        st.session_state["hiw_stage"] = STAGES[0]

    def _move(delta: int) -> None:
        k = STAGES.index(st.session_state.get("hiw_stage") or STAGES[0])
        st.session_state["hiw_stage"] = STAGES[min(max(k + delta, 0), len(STAGES) - 1)]

    n1.button("", icon=":material/arrow_back:", key="hiw_prev", on_click=_move, args=(-1,), help="Previous stage")
    stage = n2.segmented_control("Stage", STAGES, key="hiw_stage", label_visibility="collapsed") or STAGES[0]
    n3.button("", icon=":material/arrow_forward:", key="hiw_next", on_click=_move, args=(1,), help="Next stage")
    k = STAGES.index(stage)

    figure_col, text_col = st.columns([2.3, 1], gap="large")

    def play(panels: tuple[str, ...], *, triangles_shown: bool = True, start: int | None = None, title: str = "") -> None:
        fig = animation.filtration_animation(unit, start=start or st.session_state["hiw_step"], curves=curves, birth=birth,
                                             panels=panels, triangles_shown=triangles_shown, title=title, height=FIG_HEIGHT)
        chart(fig, f"hiw_play_{k}", where=figure_col, name=f"stage {k + 1}")

    def say(markdown: str) -> None:
        text_col.markdown(markdown)

    def noisy_and_random() -> tuple[np.ndarray, np.ndarray]:
        """Births of 100 noisy copies of this unit and of 100 unrelated random units of its size."""
        noise = float(st.session_state.get("hiw_noise", 0.1))
        structured = topology.birth_times(toy.noisy_copies(unit, N_COPIES, noise, seed=1))
        unrelated = topology.birth_times(toy.random_units(m, N_COPIES, seed=2))
        return structured, unrelated

    if k == 0:
        chart(unit_plots.activation_heatmap(unit, title=f"The unit U ({m} x {m})"), "hiw_unit", where=figure_col, name="unit")
        say(f"""
**A unit is an m x m activation map.** This one is {m} x {m}: each cell U[i, j] says how strongly the unit
responded at that place of one image.

featent reads the map as the **weights of a graph on m = {m} vertices**: the edge between vertices i and j
weighs max(U[i, j], U[j, i]) (Eq. 2–3). Rows and columns are the same vertices.

*Next: which entries come first.*""")
    elif k == 1:
        play(("unit",), title="The top-v entries")
        say(f"""
**Sort the m² = {n_steps} entries from largest to smallest.** At step v the v largest entries are *in*
(circled): a(v) is the v-th largest value, the threshold of that step (Eq. 4).

Press **▶ Play**: the circles appear one step at a time, in the browser. Equal values enter together.

*Next: what those entries do to the graph.*""")
    elif k == 2:
        play(("unit", "graph"), triangles_shown=False, title="Entries become edges")
        say("""
**Each entry switches on an edge.** At step v the graph G(v) has every edge whose weight is at least a(v),
so the graph only grows. Orange: the edges entering at this step.

An entry on the diagonal (i = j) is a threshold but no edge: it changes nothing in the graph.

*Next: filling in triangles.*""")
    elif k == 3:
        play(("graph",), title="The clique complex: triangles filled")
        say("""
**Fill every triangle.** Three vertices that are all connected span a filled triangle (shaded): the graph
becomes its *clique complex*.

A closed path that the triangles do **not** fill is a **hole**. β1 counts the holes, β0 the separate pieces.

*Next: the first hole.*""")
    elif k == 4:
        if birth:
            left, right = figure_col.columns(2)
            chart(
                filtration.complex_at_step(
                    unit, max(1, birth - 1), order=cycles.hole_first_order(unit, birth), title=f"Step {birth - 1}: no hole yet"
                ),
                "hiw_before",
                where=left,
                name="before the birth",
            )
            chart(filtration.complex_at_step(unit, birth, order=cycles.hole_first_order(unit, birth), highlight=cycle,
                                        title=f"Step {birth}: a hole is born"), "hiw_born", where=right, name="the born hole")
            ring = " – ".join(str(v + 1) for v in cycle + cycle[:1])
            say(f"""
**At step {birth} a hole is born.** The new edge closes the ring **{ring}** (green), and no triangle fills it:
the complex has a hole, β1 = 1, for the first time.

One step earlier (left) the same vertices were not yet a closed ring.""")
        else:
            chart(filtration.complex_at_step(unit, n_steps, title="Every step: no hole ever"), "hiw_born", where=figure_col,
                  name="no hole")
            say("""
**This unit never makes a hole.** Whatever the step, every closed ring is filled by triangles, so β1 stays 0.
Such a unit has **no birth** (b = 0). Try the paper's toy, or edit a few values.""")
    elif k == 5:
        play(("graph", "betti"), title="Betti curves: components and holes at every step")
        say(f"""
**Count pieces and holes at every step.** β0 (grey) starts at m = {m} separate vertices and falls as edges join
them; β1 (blue) jumps up when a hole appears and falls back when triangles fill it.

The dashed line marks the first step with β1 > 0{f": step {birth}" if birth else " — here there is none"}.""")
    elif k == 6:
        left, right = figure_col.columns([1, 1.4])
        left.metric("Birth time b(U, 1)", birth if birth else "no birth")
        chart(filtration.betti_curves_figure(curves, birth, title="β1 first leaves 0 at the birth time"), "hiw_betti",
              where=right, name="betti curves")
        say(f"""
**The birth time is one number per unit and image:** b(U, 1) = the first step with a hole (Eq. 7)
{f"— here **b = {birth}**" if birth else "— here **no birth** (b = 0)"}.

A unit that responds to a pattern makes its hole at a characteristic step, image after image.""")
    elif k == 7:
        text_col.slider("Noise on the copies", 0.0, 1.0, 0.1, 0.05, key="hiw_noise",
                        help="Fraction of the unit's range, added as Gaussian noise (clipped at 0 like a ReLU).")
        structured, unrelated = noisy_and_random()
        left, right = figure_col.columns(2)
        chart(birth_plots.birth_histogram(structured, title="100 noisy copies of this unit"), "hiw_hist_a", where=left,
              name="copies histogram")
        chart(birth_plots.birth_histogram(unrelated, title=f"100 unrelated random {m} x {m} units"), "hiw_hist_b", where=right,
              name="random histogram")
        say("""
**Now show the unit many images of one class.** Left: 100 noisy copies of this unit, as if it saw the same
pattern in 100 images. Right: 100 unrelated random units, a unit that sees nothing in common.

A good detector piles its birth times on a few steps. The grey **no birth** bar counts the images that give
no hole at all: they are part of |Ω| too (Eq. 9–10).""")
    else:
        structured, unrelated = noisy_and_random()
        s_copies, s_random = birth_plots.entropy_summary(structured), birth_plots.entropy_summary(unrelated)
        silent = np.zeros((N_COPIES,), dtype=np.int32)
        silent[: 3] = birth if birth else 3  # a unit that fires on 3 images of 100
        s_silent = birth_plots.entropy_summary(silent)
        def row(name: str, summary: dict) -> dict:
            eps = summary["selective_rate"]
            return {"units": name, "FE H": summary["feature_entropy"], "ε": eps,
                    "H/ε (paper's ranking)": summary["feature_entropy"] / eps if eps > 0 else float("inf")}

        table = pd.DataFrame([row("noisy copies of this unit", s_copies), row("unrelated random units", s_random),
                              row("a silent unit (3 births of 100)", s_silent)])
        size_ref = [(mm, float(entropy.feature_entropy(topology.birth_times(toy.random_units(mm, N_COPIES, seed=5)))))
                    for mm in (4, 6, 8, 10)]
        with figure_col:
            st.dataframe(table, hide_index=True, key="hiw_fe_table",
                         column_config={"FE H": st.column_config.NumberColumn(format="%.3f"),
                                        "ε": st.column_config.NumberColumn(format="%.2f"),
                                        "H/ε (paper's ranking)": st.column_config.NumberColumn(format="%.2f")})
            st.caption("Size matters too: FE of random units (nothing to perceive) over 100 'images' grows with m — "
                       + ", ".join(f"m = {mm}: {h:.2f}" for mm, h in size_ref) + ". Compare units of the same size.")
            if s_copies["low_rate"]:
                st.warning(f"The noisy copies give a birth on only {s_copies['selective_rate']:.0%} of the images (ε < p): "
                           "their FE is set by Eq. 12, not by a pattern.", icon=":material/volume_off:")
            elif s_copies["selective_rate"] < 0.5:
                st.warning(f"The noisy copies give a birth on only {s_copies['selective_rate']:.0%} of the images: their FE "
                           f"{s_copies['feature_entropy']:.2f} describes those few, the rest are the grey bar of stage 8. "
                           "Ranked by H/ε, as the paper ranks units, they come out worse than their FE suggests.",
                           icon=":material/volume_down:")
        say(f"""
**Feature entropy** H = −Σ P(x) ln P(x) over the birth steps x (Eq. 11), with P(x) = share of the |Ω| images
born at step x. Piled-up births → low H: an **effective** unit.

**Read FE only beside ε** (the share of images with a birth). A unit that almost never makes a hole has few
births, which can pile up by chance: if ε < p = {P:g} the paper sets H = (1 − ε) ln|Ω| (Eq. 12), the maximum
({math.log(N_COPIES):.2f} for |Ω| = {N_COPIES}) — silence is *not* quality. Between p and a high ε, a low FE still
describes only the images that fire.""")

    # the step slider that sets where the animated stages start (and the link's step)
    if k in (1, 2, 3, 5):
        v = text_col.number_input(f"Start at step (1..{n_steps})", 1, n_steps, key="hiw_step",
                                  help="The step the figure shows before Play; the slider under the figure moves in the browser.")
        text_col.caption(f"Step {v}: threshold a({v}) = {topology.filtration_values(unit)[v - 1]:.3g} · "
                         f"β0 = {curves[0, v - 1]} · β1 = {curves[1, v - 1]}")
    links.write_link(step=st.session_state["hiw_step"], seed=seed if kind == "random" else None)
    figure_downloads()



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
