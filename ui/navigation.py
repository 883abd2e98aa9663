"""The app's page list: titles, icons and groups, in one place for app.py and the home page."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "pages"
HOME = "pages/0_Home.py"


@dataclass(frozen=True)
class PageInfo:
    """A page file with its sidebar title, icon, group and one-line description."""

    path: str  # relative to the app root, as st.Page and st.switch_page want it
    title: str
    icon: str
    group: str
    summary: str


#: Known pages: icon, group, description. A page not listed describes itself by its docstring.
KNOWN = {
    "1_Unit_inspector.py": (":material/grid_on:", "Explore",
        "one unit on one image: activation map, the graph and clique complex at any filtration step (Play "
        "in the browser), Betti curves with the birth time, top-activating images."),
    "8_Unit_gallery.py": (":material/view_module:", "Explore",
        "every unit of a layer as a thumbnail with FE, ε and badges; sort, hide silent units, click to inspect."),
    "2_Birth_distribution.py": (":material/bar_chart:", "Explore",
        "one unit over the class: birth times with a 'no birth' bar, FE beside ε, the images behind each bar, "
        "two classes or two models side by side."),
    "3_Layer_profiles.py": (":material/stacked_line_chart:", "Explore",
        "FE, live FE and silent share per layer for the model and its random init; per-unit scatter and heatmap "
        "with silent units marked."),
    "4_Indicators.py": (":material/compare_arrows:", "Experiments",
        "FE beside L1, APoZ, class selectivity, FPGM and NISP; the rescaling and random-unit tests."),
    "5_Training_and_generalization.py": (":material/trending_down:", "Experiments",
        "FE over training epochs and for models trained on corrupted labels."),
    "6_Ablation_and_pruning.py": (":material/content_cut:", "Experiments",
        "remove units in the order an indicator gives; prune and fine-tune; unit roles."),
    "7_Model_atlas.py": (":material/public:", "Experiments", ""),
    "9_How_it_works.py": (":material/school:", "Learn",
        "the method told in order on a unit small enough to edit, animated in the browser: the 10-minute demo."),
}
GROUP_ORDER = ("Explore", "Experiments", "Learn")


def page_title(path: Path) -> str:
    """'3_Layer_profiles.py' -> 'Layer profiles' (Streamlit's own naming)."""
    return path.stem.split("_", 1)[-1].replace("_", " ")


def docstring_summary(path: Path) -> str:
    """A page's module docstring after its 'Title:' prefix."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    return first.split(":", 1)[-1].strip() if ":" in first else first


def page_infos() -> list[PageInfo]:
    """Every page file present now (Home excluded), in file order."""
    infos = []
    for path in sorted(PAGES.glob("[1-9]*.py")):
        icon, group, summary = KNOWN.get(path.name, (":material/article:", "Experiments", ""))
        infos.append(PageInfo(f"pages/{path.name}", page_title(path), icon, group, summary or docstring_summary(path)))
    return infos


def page_path(name: str) -> str:
    """'Unit inspector' -> 'pages/1_Unit_inspector.py' (for st.switch_page)."""
    for info in page_infos():
        if info.title == name:
            return info.path
    raise KeyError(name)


def pages() -> dict[str, list]:
    """Sections for st.navigation: Home on its own, then the groups."""
    sections: dict[str, list] = {"": [st.Page(HOME, title="Home", icon=":material/home:", default=True)]}
    for group in GROUP_ORDER:
        members = [i for i in page_infos() if i.group == group]
        if members:
            sections[group] = [st.Page(i.path, title=i.title, icon=i.icon) for i in members]
    return sections
