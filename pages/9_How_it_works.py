"""How it works: the method on a small editable unit, step by step (paper Fig. 2-4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from featent.core import entropy
from featent.plots import unit as plots
from featent.core import topology
from featent.errors import UnitError
from ui import cached, toy
from ui.errors import shown_in_place
from ui.layout import page_header

page_header("How it works", "From one unit to its feature entropy, on a unit small enough to edit by hand.")

EXAMPLES = {"Structured (the paper's Fig. 2 toy)": "toy", "Random": "random"}

left, right = st.columns([2, 3], gap="large")
with left:
    choice = st.radio("Example", list(EXAMPLES), horizontal=True, key="hiw_example")
    kind = EXAMPLES[choice]
    if kind == "random":
        c1, c2 = st.columns(2)
        m = c1.slider("Size m", 3, 10, 5, key="hiw_m")
        seed = int(c2.number_input("Seed", 0, 10_000, 0, key="hiw_seed"))
        start = toy.random_unit(m, seed)
        editor_key = f"hiw_editor_random_{m}_{seed}"
    else:
        start = toy.PAPER_TOY
        editor_key = "hiw_editor_toy"
    st.caption("The unit U (an m x m activation map). Edit any value; everything below follows.")
    columns = [str(j) for j in range(1, start.shape[0] + 1)]
    edited = st.data_editor(
        pd.DataFrame(start, columns=columns, index=columns),
        key=editor_key,
        column_config={c: st.column_config.NumberColumn(c, format="%.2f", step=0.01) for c in columns},
    )

with shown_in_place():
    values_in = edited.to_numpy(dtype=np.float64)
    if np.isnan(values_in).any():
        raise UnitError("Every cell of the unit needs a number: fill in the empty cells.")
    unit = topology.validate_unit(values_in)
m = unit.shape[0]
n_steps = m * m
curves = cached.betti_curves(unit)
birth = topology.birth_time(unit)
values = topology.filtration_values(unit)
circle_order = plots.hole_first_order(unit, birth)  # the born hole drawn as a polygon

if st.session_state.get("hiw_step", 1) > n_steps:
    st.session_state["hiw_step"] = n_steps
playing = bool(st.session_state.get("hiw_playing", False))


def _toggle_play() -> None:
    playing_now = not st.session_state.get("hiw_playing", False)
    st.session_state["hiw_playing"] = playing_now
    if playing_now and st.session_state.get("hiw_step", 1) >= n_steps:
        st.session_state["hiw_step"] = 1


with left:
    st.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
              on_click=_toggle_play, key="hiw_play")


@st.fragment(run_every=0.9 if playing else None)
def filtration_view() -> None:
    """Slider + the step's figures; while playing, advances one step per tick."""
    if st.session_state.get("hiw_playing", False):
        nxt = st.session_state.get("hiw_step", 1) + 1
        if nxt > n_steps:
            st.session_state["hiw_playing"] = False
            st.rerun()  # full rerun: stops the timer and relabels the button
        st.session_state["hiw_step"] = nxt
    with left:
        v = st.slider("Step v (threshold a(v) = the v-th largest entry)", 1, n_steps, key="hiw_step")
        a_v = values[v - 1]
        cx = topology.clique_complex(unit, v)
        st.markdown(
            f"**Step {v}** · threshold a({v}) = {a_v:.3g} · {cx.edges.shape[0]} edges · "
            f"{cx.triangles.shape[0]} triangles · β0 = {curves[0, v - 1]} · β1 = {curves[1, v - 1]}"
        )
        st.plotly_chart(plots.activation_heatmap(unit, v, title="U: entries already in the filtration circled"),
                        key="hiw_heat")
    with right:
        g1, g2 = st.columns(2)
        g1.plotly_chart(plots.complex_at_step(unit, v, order=circle_order,
                                               title=f"Graph G({v}) and its clique complex"), key="hiw_cx")
        g2.plotly_chart(plots.adjacency_at_step(unit, v), key="hiw_adj")
        st.plotly_chart(plots.betti_curves_figure(curves, birth, v), key="hiw_betti")


filtration_view()

with right:
    if birth:
        st.success(f"Birth time b(U, 1) = {birth}: at step {birth} the complex first has a hole (β1 > 0).")
    else:
        st.info("This unit never has a hole (β1 = 0 at every step): it has no birth time, b = 0.")

st.divider()
st.subheader("In plain words")
st.markdown(
    f"""
1. **Unit → graph.** Read the m x m unit as the weights of a graph on m vertices: the edge between
   vertices i and j weighs max(U[i,j], U[j,i]) (Eq. 2-3).
2. **Filtration.** Sort the m² = {n_steps} entries from largest to smallest. At step v keep every edge
   whose weight is at least the v-th largest entry: the graph only grows (Eq. 4). Press *Play* to watch it.
3. **Clique complex.** Fill in every triangle of the graph (every 3 mutually connected vertices).
   A cycle that no triangles fill is a *hole*; β1 counts the holes, β0 the connected pieces.
4. **Birth time.** The first step at which a hole appears is the unit's birth time b (Eq. 7). A strong,
   regular pattern in the unit makes a hole appear at a characteristic step; a unit that is almost all
   zeros may never make one (b = 0, "no birth").
5. **Feature entropy.** Show the unit many images of one class and collect the birth times. A good
   feature detector sees the same pattern every time, so its birth times pile up on a few steps: low
   entropy H = −Σ P(x) ln P(x) (Eq. 11). If fewer than a fraction p = {entropy.DEFAULT_P:g} of the images
   give a birth at all (selective rate ε < p), the unit is judged invalid and gets H = (1 − ε) ln|Ω| (Eq. 12).
"""
)

st.subheader("Structured vs random, over 100 'images'")
st.caption(
    "Left: 100 noisy copies of the unit above, as if it responded to 100 images of one class with the same "
    "pattern. Right: 100 unrelated random units of the same size, a unit that perceives nothing in common."
)
noise = st.slider("Noise on the copies (fraction of the unit's range)", 0.0, 1.0, 0.1, 0.05, key="hiw_noise")
structured = topology.birth_times(toy.noisy_copies(unit, 100, noise, seed=1))
unrelated = topology.birth_times(toy.random_units(m, 100, seed=2))
h1, h2 = st.columns(2)
h1.plotly_chart(plots.birth_histogram(structured, title="Noisy copies of this unit"), key="hiw_hist_a")
h2.plotly_chart(plots.birth_histogram(unrelated, title="Random units"), key="hiw_hist_b")
