"""How it works: the method told in order on a unit small enough to edit, one stage at a time (paper Fig. 2-4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from featent.app import cached, links, toy
from featent.app.errors import shown_in_place
from featent.app.layout import chart, figure_downloads, page_header
from featent.core import cycles, topology
from featent.errors import UnitError
from featent.plots import animation, filtration, story
from featent.plots import births as birth_plots
from featent.plots import unit as unit_plots

#: URL keys of this page: the stage, the example, its size and seed, the step and an edited unit.
LINK_KEYS = ("stage", "example", "m", "seed", "step", "unit")
LINK_WRITTEN = "_hiw_link_written"


def _unit_text(unit: np.ndarray) -> str:
    """An edited unit in a link: its values row by row, comma separated (rows by ';')."""
    return ";".join(",".join(f"{x:.4g}" for x in row) for row in unit)


def _unit_from_text(text: str) -> np.ndarray | None:
    try:
        rows = [[float(x) for x in row.split(",")] for row in text.split(";")]
        unit = np.array(rows, dtype=np.float64)
        return topology.validate_unit(unit) if 2 <= unit.shape[0] <= 16 else None
    except (ValueError, UnitError):
        return None


def _apply_link(stages: tuple[str, ...], examples: dict[str, str]) -> None:
    """Copy this page's link into its widgets once, when the URL holds something this session did not write."""
    params = {k: v for k, v in st.query_params.to_dict().items() if k in LINK_KEYS}
    if not params or params == st.session_state.get(LINK_WRITTEN):
        return
    st.session_state[LINK_WRITTEN] = params
    by_kind = {kind: name for name, kind in examples.items()}
    if params.get("example") in by_kind:
        st.session_state["hiw_example"] = by_kind[params["example"]]
    for key, name, low, high in (("m", "hiw_m", 3, 10), ("seed", "hiw_seed", 0, 10_000), ("step", "hiw_step", 1, 10_000)):
        if params.get(key, "").isdigit() and low <= int(params[key]) <= high:
            st.session_state[name] = int(params[key])
    number = params.get("stage", "")
    if number.isdigit() and 1 <= int(number) <= len(stages):
        st.session_state["hiw_stage"] = stages[int(number) - 1]
    if "unit" in params and (edited := _unit_from_text(params["unit"])) is not None:
        st.session_state["hiw_link_unit"] = edited
    if "step" in params and params["step"].isdigit():
        st.session_state["hiw_link_step"] = int(params["step"])


def render() -> None:
    page_header("How it works", "From one unit to its feature entropy, in nine stages. Each figure has its sentence beside "
                "it; ▶ Play runs in your browser.", icon=":material/school:")
    story_body()
    figure_downloads()


@st.fragment
def story_body() -> None:
    """The page below its title, a fragment: a change of the unit, stage or step reruns only this."""
    STAGES = story.STAGES
    EXAMPLES = {"Paper's toy (Fig. 2)": "toy", "Random unit": "random"}
    FIG_HEIGHT = 470

    _apply_link(STAGES, EXAMPLES)
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
    linked = st.session_state.get("hiw_link_unit")
    if linked is not None and (kind == "toy" or linked.shape[0] == start_unit.shape[0]):
        start_unit, editor_key = linked, f"{editor_key}_linked"
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

    # the step a stage starts on: 1 (nothing in yet), or the link's step once
    if "hiw_link_step" in st.session_state:
        st.session_state["hiw_step"] = st.session_state.pop("hiw_link_step")
    if not 1 <= int(st.session_state.get("hiw_step", 0) or 0) <= n_steps:
        st.session_state["hiw_step"] = 1

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
                                             panels=panels, triangles_shown=triangles_shown, title=title, height=FIG_HEIGHT,
                                             jumps_only=bool(st.session_state.get("hiw_jumps")))
        chart(fig, f"hiw_play_{k}", where=figure_col, name=f"stage {k + 1}")

    def say(markdown: str) -> None:
        text_col.markdown(markdown, unsafe_allow_html=True)  # equation references are <abbr> tooltips

    def noisy_and_random() -> story.StoryNumbers:
        """Births of 100 noisy copies of this unit and of 100 unrelated random units of its size, their FE table."""
        return story.story_numbers(unit, float(st.session_state.get("hiw_noise", 0.1)))

    text = story.stage_text(k, unit, noisy_and_random() if k == 8 else None)

    if k == 0:
        chart(unit_plots.activation_heatmap(unit, title=f"The unit U ({m} x {m})"), "hiw_unit", where=figure_col, name="unit")
        say(text)
    elif k == 1:
        play(("unit",), title="The top-v entries")
        say(text)
    elif k == 2:
        play(("unit", "graph"), triangles_shown=False, title="Entries become edges")
        say(text)
    elif k == 3:
        play(("graph",), title="The clique complex: triangles filled")
        say(text)
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
            say(text)
        else:
            chart(filtration.complex_at_step(unit, n_steps, title="Every step: no hole ever"), "hiw_born", where=figure_col,
                  name="no hole")
            say(text)
    elif k == 5:
        play(("graph", "betti"), title="Betti curves: components and holes at every step")
        say(text)
    elif k == 6:
        left, right = figure_col.columns([1, 1.4])
        left.metric("Birth time b(U, 1)", birth if birth else "no birth")
        chart(filtration.betti_curves_figure(curves, birth, title="β1 first leaves 0 at the birth time"), "hiw_betti",
              where=right, name="betti curves")
        say(text)
    elif k == 7:
        text_col.slider("Noise on the copies", 0.0, 1.0, 0.1, 0.05, key="hiw_noise",
                        help="Fraction of the unit's range, added as Gaussian noise (clipped at 0 like a ReLU).")
        numbers = noisy_and_random()
        structured, unrelated = numbers.structured, numbers.unrelated
        left, right = figure_col.columns(2)
        chart(birth_plots.birth_histogram(structured, title="100 noisy copies of this unit"), "hiw_hist_a", where=left,
              name="copies histogram")
        chart(birth_plots.birth_histogram(unrelated, title=f"100 unrelated random {m} x {m} units"), "hiw_hist_b", where=right,
              name="random histogram")
        say(text)
    else:
        numbers = noisy_and_random()  # the table, the figure and the sentence's numbers: one computation
        s_copies = numbers.copies
        table = pd.DataFrame(numbers.rows)
        with figure_col:
            t_col, f_col = st.columns([1.5, 1])
            t_col.dataframe(table, hide_index=True, key="hiw_fe_table",
                            column_config={"FE H": st.column_config.NumberColumn(format="%.3f"),
                                           "ε": st.column_config.NumberColumn(format="%.2f"),
                                           "H/ε (paper's ranking)": st.column_config.NumberColumn(format="%.2f")})
            chart(story.entropy_bars(numbers), "hiw_fe_bars", where=f_col, name="entropy")
            if s_copies["low_rate"]:
                st.warning(f"The noisy copies give a birth on only {s_copies['selective_rate']:.0%} of the images (ε < p): "
                           "their FE is set by Eq. 12, not by a pattern.", icon=":material/volume_off:")
            elif s_copies["selective_rate"] < 0.5:
                st.warning(f"The noisy copies give a birth on only {s_copies['selective_rate']:.0%} of the images: their FE "
                           f"{s_copies['feature_entropy']:.2f} describes those few, the rest are the grey bar of stage 8. "
                           "Ranked by H/ε, as the paper ranks units, they come out worse than their FE suggests.",
                           icon=":material/volume_down:")
        say(text)

    # the step the animated stages start on, one step back or forward (and the link's step)
    if k in (1, 2, 3, 5):
        jumps = animation.jump_steps(curves)

        def _shift(delta: int) -> None:
            now = int(st.session_state["hiw_step"])
            if st.session_state.get("hiw_jumps"):  # the previous / next step where β1 changes
                ahead = [j for j in jumps if j > now] if delta > 0 else [j for j in jumps if j < now][::-1]
                st.session_state["hiw_step"] = ahead[0] if ahead else now
            else:
                st.session_state["hiw_step"] = min(max(now + delta, 1), n_steps)

        b1, b2, b3 = text_col.columns([1, 2.2, 1], vertical_alignment="bottom")
        b1.button("", icon=":material/chevron_left:", key="hiw_step_back", on_click=_shift, args=(-1,), help="One step back")
        v = b2.number_input(f"Start at step (1..{n_steps})", 1, n_steps, key="hiw_step",
                            help="The step the figure shows before Play; the slider under the figure moves in the browser.")
        b3.button("", icon=":material/chevron_right:", key="hiw_step_fwd", on_click=_shift, args=(1,), help="One step forward")
        text_col.toggle("Births only", key="hiw_jumps",
                        help="Play and the step buttons visit only the steps where β1 changes (a hole is born or "
                             f"filled): here {', '.join(map(str, jumps[:8]))}{' …' if len(jumps) > 8 else ''}.")
        text_col.caption(f"Step {v}: threshold a({v}) = {topology.filtration_values(unit)[v - 1]:.3g} · "
                         f"β0 = {curves[0, v - 1]} · β1 = {curves[1, v - 1]}")
    params = {"stage": str(k + 1), "example": kind, "step": str(st.session_state["hiw_step"])}
    if kind == "random":
        params.update(m=str(m), seed=str(seed))
    if not np.array_equal(unit, start_unit) or st.session_state.get("hiw_link_unit") is not None:
        params["unit"] = _unit_text(unit)
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    st.session_state[LINK_WRITTEN] = params
    links.copy_link(params, where=text_col)
    if m <= story.MAX_STORY_M:
        text_col.download_button("Download the story (one HTML file)", lambda: story.story_html(unit),
                                 file_name="featent-story.html",
                                 mime="text/html", icon=":material/download:", key="hiw_story_download",
                                 help="The nine stages with Play, for a room with no network and no server: open it "
                                      "from disk in any browser.")



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
