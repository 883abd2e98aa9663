"""The app's navigation: one explicit list of pages (title, icon, group, summary, script) for the
sidebar, the home page's overview and every jump from one page to another.

Why an explicit list: Streamlit's automatic ``pages/`` listing names the first entry after the main
script, cannot group pages and only exists next to a checkout. Each page's script is a module of
``featent.app.views`` (its ``render`` runs when Streamlit executes the file), so the packaged app
needs no checkout and ``AppTest.switch_page`` can open a page by its file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from featent.app.warmup import import_page_modules

VIEWS = Path(__file__).resolve().parent / "views"


@dataclass(frozen=True)
class PageInfo:
    """A page of the app: its script in featent/app/views, sidebar title, icon, group and summary."""

    module: str  # featent.app.views.<module>
    title: str
    icon: str
    group: str  # "" for Home, shown above the groups
    summary: str

    @property
    def script(self) -> Path:
        return VIEWS / f"{self.module}.py"

    @property
    def url_path(self) -> str:
        """The page's address (e.g. /Unit_inspector): deep links and bookmarks name it."""
        return self.title.replace(" ", "_")


HOME = PageInfo("home", "Home", ":material/home:", "", "choose model, data and class; see what you chose.")
#: Every page in sidebar order: groups appear in the order of their first page.
PAGES: tuple[PageInfo, ...] = (
    HOME,
    PageInfo("unit_inspector", "Unit inspector", ":material/grid_on:", "Explore",
             "one unit on one image: activation map, the graph and clique complex at any filtration step (Play "
             "in the browser), Betti curves with the birth time, top-activating images."),
    PageInfo("birth_distribution", "Birth distribution", ":material/bar_chart:", "Explore",
             "one unit over the class: birth times with a 'no birth' bar, FE beside ε, the images behind each bar, "
             "two classes or two models side by side."),
    PageInfo("layer_profiles", "Layer profiles", ":material/stacked_line_chart:", "Explore",
             "FE, live FE and silent share per layer for the model and its random init; per-unit scatter and "
             "heatmap with silent units marked."),
    PageInfo("unit_gallery", "Unit gallery", ":material/view_module:", "Explore",
             "every unit of a layer as a thumbnail with FE, ε and badges; sort, hide silent units, click to inspect."),
    PageInfo("indicators", "Indicators", ":material/compare_arrows:", "Experiments",
             "FE beside L1, APoZ, class selectivity, FPGM and NISP; the rescaling and random-unit tests."),
    PageInfo("training_and_generalization", "Training and generalization", ":material/trending_down:", "Experiments",
             "FE over training epochs and for models trained on corrupted labels."),
    PageInfo("ablation_and_pruning", "Ablation and pruning", ":material/content_cut:", "Experiments",
             "remove units in the order an indicator gives; prune and fine-tune; unit roles."),
    PageInfo("model_atlas", "Model atlas", ":material/public:", "Experiments",
             "mean feature entropy of every layer and class of a model at a glance, from a sweep."),
    PageInfo("how_it_works", "How it works", ":material/school:", "Learn",
             "the method told in order on a unit small enough to edit, animated in the browser: the 10-minute demo."),
)


def page_info(module: str) -> PageInfo:
    """The page whose script is featent/app/views/<module>.py."""
    for info in PAGES:
        if info.module == module:
            return info
    raise KeyError(module)


def st_page(info: PageInfo) -> st.Page:
    """The st.Page of a page (for st.navigation, st.switch_page and st.page_link)."""
    return st.Page(info.script, title=info.title, icon=info.icon, url_path=info.url_path, default=info is HOME)


def page(module: str) -> st.Page:
    """The st.Page of featent/app/views/<module>.py, e.g. ``st.switch_page(page("unit_inspector"))``."""
    return st_page(page_info(module))


def sections() -> dict[str, list[st.Page]]:
    """PAGES grouped for st.navigation: Home on its own, then the groups in order."""
    grouped: dict[str, list[st.Page]] = {}
    for info in PAGES:
        grouped.setdefault(info.group, []).append(st_page(info))
    return grouped


def tab_icon() -> Any:
    """The browser tab's icon, an image the server itself serves (featent's accent colour, as in
    .streamlit/config.toml): a Material icon name as ``page_icon`` would make the browser fetch its SVG
    from fonts.gstatic.com, and the app makes no outside request."""
    from PIL import Image

    return Image.new("RGB", (32, 32), "#1f5fa8")


def run() -> None:
    """Draw the navigation and run the page the URL names (Home by default).

    The tab icon is set before the navigation: otherwise the client takes the page's Material icon as
    the tab icon and fetches its SVG from fonts.gstatic.com, and the app makes no outside request.
    Every page but Home starts by importing torch, so it waits its turn for
    :func:`~featent.app.warmup.import_page_modules` first; Home draws its text before that and waits
    itself."""
    st.set_page_config(page_icon=tab_icon(), layout="wide")
    current = st.navigation(sections(), position="sidebar")
    if current.url_path:  # every page but Home, the default page (its path is "")
        import_page_modules()
    current.run()
