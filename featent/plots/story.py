"""The method told in nine stages: the sentences, the class numbers and a self-contained HTML page.

Why one module: How it works (the app page) and ``featent story`` (one HTML file for a room with no
server) tell the same story, so the sentences and every number they quote come from here, computed
once from the unit. The HTML page embeds plotly.js and the filtration compactly (the edge order and
the triangles with the step each enters, sent once); its script draws every step in the browser.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go

from featent.core import cycles, entropy, topology
from featent.plots import births as birth_plots
from featent.plots.animation import edge_steps, ring_filled_step, triangles_until
from featent.plots.filtration import circle_layout, oriented_triangles
from featent.plots.style import PALETTE, TRIANGLE_FILL, style

__all__ = ["STAGES", "METHOD_DOC", "EQUATIONS", "StoryNumbers", "story_numbers", "stage_text", "entropy_bars", "story_html",
           "story_data", "random_units", "noisy_copies", "MAX_STORY_M",
           "PAPER_TOY"]

STAGES = ("1 Unit", "2 Top-v", "3 Graph", "4 Complex", "5 Born hole", "6 Betti", "7 Birth", "8 Class", "9 Entropy")
#: The method document that equation references point to.
METHOD_DOC = "docs/method.md"
N_COPIES = 100
#: A 4x4 unit like the paper's Fig. 2: its 4 largest entries sit at (1,2), (4,3), (2,4), (3,1)
#: (1-based), so A^(4) is the 4-cycle 1-2-4-3-1 and a hole is born at step 4.
PAPER_TOY = np.array(
    [
        [0.10, 0.90, 0.20, 0.05],
        [0.30, 0.15, 0.25, 0.80],
        [0.70, 0.20, 0.10, 0.35],
        [0.00, 0.10, 0.60, 0.20],
    ]
)
#: Largest unit a story page draws whole (m² steps, every triangle); larger units are refused.
MAX_STORY_M = 32


def noisy_copies(unit: np.ndarray, n: int, noise: float, seed: int = 0) -> np.ndarray:
    """n copies of ``unit`` with Gaussian noise (scaled by its range), clipped at 0 like a ReLU.

    Stands in for "the same unit on n images of one class": a unit that responds to a pattern
    keeps its structure under small changes, so its birth times stay together.
    """
    rng = np.random.default_rng(seed)
    scale = float(np.ptp(unit)) or 1.0
    return np.clip(unit[None] + noise * scale * rng.standard_normal((n, *unit.shape)), 0.0, None)


def random_units(m: int, n: int, seed: int = 0) -> np.ndarray:
    """n unrelated random units: what a unit that perceives nothing looks like over a class."""
    return np.random.default_rng(seed).random((n, m, m))


@dataclass
class StoryNumbers:
    """Stages 8-9: births of noisy copies and of unrelated random units, their FE table, the size reference."""

    structured: np.ndarray
    unrelated: np.ndarray
    rows: list[dict]
    size_reference: list[tuple[int, float]] = field(default_factory=list)
    copies: dict = field(default_factory=dict)


#: Seeds of the class stand-ins; the size reference uses the unrelated units' seed, so at this unit's
#: m its number is the table's "unrelated random units" FE (one computation, quoted twice).
COPIES_SEED, UNRELATED_SEED = 1, 2


def story_numbers(unit: np.ndarray, noise: float = 0.1, sizes: tuple[int, ...] = (4, 6, 8, 10)) -> StoryNumbers:
    """The class-level numbers of stages 8 and 9 for ``unit``, each computed once."""
    u = topology.validate_unit(unit)
    m = u.shape[0]
    birth = topology.birth_time(u)
    structured = topology.birth_times(noisy_copies(u, N_COPIES, noise, seed=COPIES_SEED))
    unrelated = topology.birth_times(random_units(m, N_COPIES, seed=UNRELATED_SEED))
    silent = np.zeros((N_COPIES,), dtype=np.int32)
    silent[:3] = birth if birth else 3  # a unit that fires on 3 images of 100
    s_copies = birth_plots.entropy_summary(structured)

    def row(name: str, summary: dict) -> dict:
        eps = summary["selective_rate"]
        return {"units": name, "FE H": summary["feature_entropy"], "ε": eps,
                "H/ε (paper's ranking)": summary["feature_entropy"] / eps if eps > 0 else float("inf")}

    rows = [row("noisy copies of this unit", s_copies), row(f"unrelated random {m} x {m} units",
                                                             birth_plots.entropy_summary(unrelated)),
            row("a silent unit (3 births of 100)", birth_plots.entropy_summary(silent))]
    reference = []
    for mm in sorted(set(sizes) | {m}):
        births = unrelated if mm == m else topology.birth_times(random_units(mm, N_COPIES, seed=UNRELATED_SEED))
        reference.append((mm, float(entropy.feature_entropy(births))))
    return StoryNumbers(structured, unrelated, rows, reference, s_copies)


#: What each equation says, shown as the tooltip of its reference (the full text: docs/method.md).
EQUATIONS = {
    "Eq. 2–3": "w_ij = max(U_ij, U_ji) for i ≠ j: the unit as a weighted graph on its m rows = columns",
    "Eq. 4": "a(v) = the v-th largest entry of U; G(v) has edge (i, j) iff w_ij ≥ a(v)",
    "Eq. 7": "b(U, 1) = the smallest step v with β1(v) ≠ 0 (0: no birth)",
    "Eq. 9–10": "P(x) = b_x / |Ω|: the share of all |Ω| sampled images born at step x, those without a birth counted too",
    "Eq. 11": "H = −Σ_x P(x) ln P(x) over the steps x with a birth (natural log)",
    "Eq. 12": "if ε < p: H = (1 − ε) ln|Ω| (a unit that rarely fires gets the maximum)",
}


def _eq(label: str, anchor: str = "") -> str:
    """An equation reference with a tooltip saying what the equation is (docs/method.md has them all)."""
    tip = html.escape(EQUATIONS[label] + " — docs/method.md", quote=True)
    return f'<abbr title="{tip}">{label}</abbr>'


def stage_text(k: int, unit: np.ndarray, numbers: StoryNumbers | None = None) -> str:
    """The sentence beside stage ``k`` (0-based) as Markdown; numbers come from ``story_numbers``."""
    u = topology.validate_unit(unit)
    m = u.shape[0]
    n_steps = m * m
    birth = topology.birth_time(u)
    ring = cycles.hole_cycle(u, birth) if birth else []
    p = entropy.DEFAULT_P
    if k == 0:
        return f"""**A unit is an m x m activation map.** This one is {m} x {m}: each cell U[i, j] says how strongly the unit
responded at that place of one image.

featent reads the map as the **weights of a graph on m = {m} vertices**: the edge between vertices i and j
weighs max(U[i, j], U[j, i]) ({_eq("Eq. 2–3")}). **Why rows and columns are vertices:** the method
reads the square map as a table of link strengths between m points, cell (i, j) being the link from point i to
point j, so row i and column i both stand for the same point i.

*Next: which entries come first.*"""
    if k == 1:
        return f"""**Sort the m² = {n_steps} entries from largest to smallest.** At step v the v largest entries are *in*
(circled): a(v) is the v-th largest value, the threshold of that step ({_eq("Eq. 4")}).

Press **▶ Play**: the circles appear one step at a time. Equal values enter together.

*Next: what those entries do to the graph.*"""
    if k == 2:
        return """**Each entry switches on an edge.** At step v the graph G(v) has every edge whose weight is at least a(v),
so the graph only grows. Orange: the edges entering at this step.

An entry on the diagonal (i = j) is a threshold but no edge: it changes nothing in the graph.

*Next: filling in triangles.*"""
    if k == 3:
        return """**Fill every triangle.** Three vertices that are all connected span a filled triangle (shaded): the graph
becomes its *clique complex*.

A closed path that the triangles do **not** fill is a **hole** (green while it stays open). β1 counts the holes,
β0 the separate pieces.

*Next: the first hole.*"""
    if k == 4:
        if not birth:
            return """**This unit never makes a hole.** Whatever the step, every closed ring is filled by triangles,
so β1 stays 0. Such a unit has **no birth** (b = 0). Try the paper's toy, or edit a few values."""
        ring_text = " – ".join(str(v + 1) for v in ring + ring[:1])
        return f"""**At step {birth} a hole is born.** The new edge closes the ring **{ring_text}** (green), and no
triangle fills it: the complex has a hole, β1 = 1, for the first time.

One step earlier (left) the same vertices were not yet a closed ring."""
    if k == 5:
        return f"""**Count pieces and holes at every step.** β0 (grey) starts at m = {m} separate vertices and falls as edges join
them; β1 (blue) jumps up when a hole appears and falls back when triangles fill it.

The dashed line marks the first step with β1 > 0{f": step {birth}" if birth else " — here there is none"}."""
    if k == 6:
        return f"""**The birth time is one number per unit and image:** b(U, 1) = the first step with a hole ({_eq("Eq. 7")})
{f"— here **b = {birth}**" if birth else "— here **no birth** (b = 0)"}.

A unit that responds to a pattern makes its hole at a characteristic step, image after image."""
    if k == 7:
        return f"""**Now show the unit many images of one class.** Left: {N_COPIES} noisy copies of this unit,
as if it saw the same pattern in {N_COPIES} images. Right: {N_COPIES} unrelated random units, a unit that sees nothing in common.

A good detector piles its birth times on a few steps. The grey **no birth** bar counts the images that give
no hole at all: they are part of |Ω| too ({_eq("Eq. 9–10")})."""
    numbers = numbers or story_numbers(u)
    sizes = ", ".join(f"m = {mm}: {h:.3f}" for mm, h in numbers.size_reference)
    return f"""**Feature entropy** H = −Σ P(x) ln P(x) over the birth steps x ({_eq("Eq. 11")}), with P(x) = share of
the |Ω| images born at step x. Piled-up births → low H: an **effective** unit.

**Read FE only beside ε** (the share of images with a birth). If ε < p = {p:g} the paper sets H = (1 − ε) ln|Ω|
({_eq("Eq. 12")}), the maximum ({math.log(N_COPIES):.2f} for |Ω| = {N_COPIES}) — silence is *not* quality.

**Size matters too:** FE of random units (nothing to perceive) over {N_COPIES} 'images' grows with m — {sizes}
(m = {m} is the table's random row). Compare units of the same size."""


def entropy_bars(numbers: StoryNumbers, title: str = "FE of each kind of unit") -> go.Figure:
    """Stage 9's figure: the table's FE per row as bars, with ln|Ω| (the Eq. 12 maximum) dashed."""
    names = [r["units"] for r in numbers.rows]
    fe = [r["FE H"] for r in numbers.rows]
    colours = [PALETTE["primary"], PALETTE["muted"], PALETTE["accent"]]
    fig = go.Figure(go.Bar(x=fe, y=names, orientation="h", marker={"color": colours[: len(names)]},
                           text=[f"{h:.3f}" for h in fe], textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: FE %{x:.3f}<extra></extra>"))
    top = math.log(N_COPIES)
    fig.add_vline(x=top, line={"color": PALETTE["ink"], "dash": "dash", "width": 1},
                  annotation_text=f"ln|Ω| = {top:.2f}", annotation_position="top left")
    fig.update_xaxes(title="FE H", range=[0, top * 1.35])
    fig.update_yaxes(autorange="reversed", automargin=True)
    return style(fig, title, height=320, showlegend=False, margin={"l": 20, "r": 20, "t": 50, "b": 50})


# --------------------------------------------------------------------------- the HTML page


def story_data(unit: np.ndarray, noise: float = 0.1) -> dict:
    """Everything the page's script needs, compact: the filtration sent once (edges and triangles with their step).

    ``tris`` are exactly the clique complex's 2-simplices, each with the step its last edge enters, and
    oriented one way on the circle so their shading is their union; ``filled`` is the step at which the
    born ring stops being a hole (0: never).
    """
    u = topology.validate_unit(unit)
    m = u.shape[0]
    if m > MAX_STORY_M:
        raise ValueError(f"a story page draws units up to {MAX_STORY_M} x {MAX_STORY_M}; this one is {m} x {m}")
    birth = topology.birth_time(u)
    ring = cycles.hole_cycle(u, birth) if birth else []
    curves = topology.betti_curves(u)
    pairs, steps = edge_steps(u)
    n_steps = m * m
    tris, tri_steps = triangles_until(m, pairs, steps, n_steps)
    filled = ring_filled_step(m, ring, tris, tri_steps) if ring else 0
    order = ring + [v for v in range(m) if v not in ring]
    position = np.full((m, 2), np.nan)
    position[order] = circle_layout(m)
    tris = oriented_triangles(position, tris)
    numbers = story_numbers(u, noise)
    values = topology.filtration_values(u)
    jumps = [v for v in range(1, n_steps + 1) if v == 1 or curves[1, v - 1] > (curves[1, v - 2] if v > 1 else 0)]
    hist_a = birth_plots.birth_histogram(numbers.structured, title=f"{N_COPIES} noisy copies of this unit")
    hist_b = birth_plots.birth_histogram(numbers.unrelated, title=f"{N_COPIES} unrelated random {m} x {m} units")
    return {
        "m": m,
        "unit": np.round(u, 4).tolist(),
        "values": [float(f"{x:.4g}") for x in values],
        "edges": np.column_stack([pairs, steps]).astype(int).tolist(),
        "tris": np.column_stack([tris, tri_steps]).astype(int).tolist() if len(tris) else [],
        "order": order,
        "pos": np.round(position, 4).tolist(),
        "birth": int(birth),
        "ring": ring,
        "filled": int(filled),
        "curves": curves.astype(int).tolist(),
        "jumps": jumps,
        "stages": list(STAGES),
        "texts": [_markdown_html(stage_text(k, u, numbers)) for k in range(len(STAGES))],
        "table": [{k: (round(v, 3) if isinstance(v, float) and math.isfinite(v) else ("∞" if isinstance(v, float) else v))
                   for k, v in r.items()} for r in numbers.rows],
        "figs": {"hist_a": _fig_json(hist_a), "hist_b": _fig_json(hist_b), "entropy": _fig_json(entropy_bars(numbers))},
        "colors": {**PALETTE, "fill": TRIANGLE_FILL},
    }


def _fig_json(fig: go.Figure) -> dict:
    spec = json.loads(fig.to_json())
    return {"data": spec["data"], "layout": spec["layout"]}


def _markdown_html(text: str) -> str:
    """The small Markdown the stage sentences use (bold, italics, links with a title) as HTML."""
    out = []
    for para in text.strip().split("\n\n"):
        p = para.replace("\n", " ")  # the sentences are ours: plain text, <abbr> tooltips, ** and *
        p = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", p)
        p = re.sub(r"\*(.+?)\*", r"<i>\1</i>", p)
        out.append(f"<p>{p}</p>")
    return "\n".join(out)


def story_html(unit: np.ndarray, *, title: str = "Feature entropy, step by step", noise: float = 0.1) -> str:
    """One self-contained HTML page: nine stages, client-side Play with a speed, step and stage controls.

    plotly.js is embedded (``plotly.offline.get_plotlyjs``), nothing is fetched: the page works opened
    from disk with no network and no server.
    """
    from plotly.offline import get_plotlyjs

    data = json.dumps(story_data(unit, noise), separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    return (_PAGE.replace("%%TITLE%%", html.escape(title)).replace("%%PLOTLY%%", get_plotlyjs().replace("</script", "<\\/script"))
            .replace("%%DATA%%", data).replace("%%SCRIPT%%", _SCRIPT))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%%TITLE%%</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1500px;padding:12px 20px;color:#1f2933}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}
#stages{display:flex;flex-wrap:wrap;gap:4px;margin-bottom:10px}
#stages button{padding:6px 10px;border:1px solid #c5cbd3;background:#fff;border-radius:6px;cursor:pointer;white-space:nowrap}
#stages button.on{background:#1f5fa8;color:#fff;border-color:#1f5fa8}
#main{display:flex;gap:24px;align-items:flex-start}
#figs{flex:2.3;min-width:0}#text{flex:1;min-width:260px;line-height:1.45}
.row{display:flex;gap:8px;min-width:0}.row>div{flex:1;min-width:0;height:380px}
#controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-top:8px}
#controls button{padding:5px 10px;border-radius:6px;border:1px solid #c5cbd3;background:#fff;cursor:pointer}
#caption{margin-top:6px;font-variant-numeric:tabular-nums;font-size:.95rem;min-height:1.3em}
#slider{flex:1;min-width:160px}
table{border-collapse:collapse;margin-bottom:8px}td,th{border-bottom:1px solid #e3e6ea;padding:4px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}
#big{font-size:3rem;font-weight:600;padding:40px 10px}
</style></head><body>
<h1>%%TITLE%%</h1>
<div id="stages"></div>
<div id="main"><div id="figs"><div class="row" id="row"></div>
<div id="stepper"><div id="controls">
<button id="back" title="one step back">◀ step</button><button id="play">▶ Play</button>
<button id="fwd" title="one step forward">step ▶</button>
<label>speed <input id="speed" type="number" min="0.5" max="60" step="0.5" value="2" style="width:4em"> steps/s</label>
<label><input id="jumps" type="checkbox"> births only</label>
<input id="slider" type="range" min="1" value="1"></div>
<div id="caption"></div></div></div>
<div id="text"></div></div>
<script>%%PLOTLY%%</script>
<script>const D=%%DATA%%;</script>
<script>%%SCRIPT%%</script>
</body></html>
"""

_SCRIPT = r"""
(function(){
const C=D.colors,m=D.m,N=m*m,S={stage:0,step:1,timer:null,frames:0,started:0,times:[]};
window.story=S;
const $=id=>document.getElementById(id);
const cfg={displayModeBar:false,responsive:true,staticPlot:false};
function base(title){return {title:{text:title,font:{size:14},x:0.02,xanchor:'left'},margin:{l:40,r:15,t:40,b:40},
  paper_bgcolor:'white',plot_bgcolor:'white',showlegend:false,font:{color:C.ink}};}
function seg(pairs,close){const x=[],y=[];for(const p of pairs){const q=close?p.concat([p[0]]):p;
  for(const v of q){x.push(D.pos[v][0]);y.push(D.pos[v][1]);}x.push(null);y.push(null);}return {x,y};}
function unitFig(v,circled){const t=D.values[v-1],cx=[],cy=[];
  if(circled){for(let i=0;i<m;i++)for(let j=0;j<m;j++)if(D.unit[i][j]>=t){cx.push(j+1);cy.push(i+1);}}
  const ax=[...Array(m).keys()].map(k=>k+1);
  const data=[{type:'heatmap',z:D.unit,x:ax,y:ax,colorscale:'Viridis',showscale:false,
    hovertemplate:'row %{y}, col %{x}<br>U = %{z}<extra></extra>'}];
  if(circled)data.push({type:'scatter',mode:'markers',x:cx,y:cy,hoverinfo:'skip',
    marker:{symbol:'circle-open',size:Math.max(5,Math.min(22,260/m)),color:C.accent,line:{width:2.5}}});
  const l=base(circled?'Unit U, top-v entries circled':'The unit U ('+m+' x '+m+')');
  l.yaxis={autorange:'reversed',scaleanchor:'x',constrain:'domain',title:{text:'row i = vertex i'}};
  l.xaxis={constrain:'domain',title:{text:'column j = vertex j'}};return {data,layout:l};}
function holeOpen(v){return D.birth>0&&v>=D.birth&&(D.filled===0||v<D.filled);}
function graphFig(v,tri,title,ring){
  const old=[],nw=[];for(const e of D.edges){if(e[2]<v)old.push([e[0],e[1]]);else if(e[2]===v)nw.push([e[0],e[1]]);}
  const tr=tri?D.tris.filter(t=>t[3]<=v).map(t=>[t[0],t[1],t[2]]):[];
  const T=seg(tr,true),O=seg(old),W=seg(nw),H=(ring&&holeOpen(v))?seg([D.ring],true):{x:[],y:[]};
  const lab=D.order.map(k=>String(k+1));
  const data=[{type:'scatter',mode:'lines',fill:'toself',fillcolor:C.fill,line:{width:0,color:C.fill},hoverinfo:'skip',
  name:'triangles',x:T.x,y:T.y},
   {type:'scatter',mode:'lines',line:{width:1.4,color:C.primary},hoverinfo:'skip',name:'edges',x:O.x,y:O.y},
   {type:'scatter',mode:'lines',line:{width:3,color:C.accent},hoverinfo:'skip',name:'new edges',x:W.x,y:W.y},
   {type:'scatter',mode:'lines',line:{width:5,color:C.good},hoverinfo:'skip',name:'the born hole',x:H.x,y:H.y},
   {type:'scatter',mode:m<=24?'markers+text':'markers',x:D.order.map(k=>D.pos[k][0]),y:D.order.map(k=>D.pos[k][1]),
    text:lab,textfont:{size:10,color:'white'},marker:{size:m<=16?20:12,color:C.ink},
  hovertemplate:'vertex %{text}<extra></extra>'}];
  const l=base(title);l.xaxis={visible:false,range:[-1.25,1.25]};l.yaxis={visible:false,range:[-1.25,1.25],scaleanchor:'x'};
  return {data,layout:l};}
function bettiFig(v,title){const xs=[...Array(N).keys()].map(k=>k+1);
  const data=[{type:'scatter',x:xs,y:D.curves[0],mode:'lines',line:{shape:'hv',color:C.muted,width:1.5},name:'β0'},
   {type:'scatter',x:xs,y:D.curves[1],mode:'lines',line:{shape:'hv',color:C.primary,width:2.5},name:'β1',yaxis:'y2'}];
  const l=base(title);l.xaxis={title:{text:'step v'},range:[0.5,N+0.5]};
  l.yaxis={title:{text:'β0 (pieces)'},rangemode:'tozero',tickformat:'d'};
  l.yaxis2={title:{text:'β1 (holes)'},overlaying:'y',side:'right',rangemode:'tozero',tickformat:'d',showgrid:false};
  l.margin={l:50,r:50,t:40,b:45};l.shapes=[];l.annotations=[];
  if(D.birth){l.shapes.push({type:'line',x0:D.birth,x1:D.birth,yref:'paper',y0:0,y1:1,line:{color:C.accent,dash:'dash',
  width:2}});
    l.annotations.push({x:D.birth,yref:'paper',y:1.0,text:'birth b = '+D.birth,showarrow:false,xanchor:'left',
  yanchor:'bottom',font:{color:C.accent}});}
  const top=Math.max(1,...D.curves[0]);
  data.push({type:'scatter',mode:'lines',x:v?[v,v]:[],y:v?[0,top]:[],line:{color:C.ink,dash:'dot',width:1.5},
  hoverinfo:'skip',name:'step v'});
  return {data,layout:l};}
function panels(n){const row=$('row');while(row.children.length>n)row.removeChild(row.lastChild);
  while(row.children.length<n){const d=document.createElement('div');row.appendChild(d);}return [...row.children];}
function nEdges(v){let k=0;for(const e of D.edges)if(e[2]<=v)k++;return k;}
function caption(v){return 'step '+v+' · a('+v+') = '+D.values[v-1]+' · '+nEdges(v)+' edges · β0 = '+D.curves[0][v-1]+
  ' · β1 = '+D.curves[1][v-1]+(v===D.birth?' · a hole is born':'');}
const STEPPED=[1,2,3,5];
function draw(){const k=S.stage,v=S.step;
  document.querySelectorAll('#stages button').forEach((b,i)=>b.classList.toggle('on',i===k));
  $('text').innerHTML=D.texts[k];$('stepper').style.display=STEPPED.includes(k)?'':'none';
  $('slider').value=v;$('caption').textContent=caption(v);let p;
  if(k===0){p=panels(1);Plotly.react(p[0],unitFig(v,false).data,unitFig(v,false).layout,cfg);}
  else if(k===1){p=panels(1);const f=unitFig(v,true);Plotly.react(p[0],f.data,f.layout,cfg);}
  else if(k===2){p=panels(2);const a=unitFig(v,true),b=graphFig(v,false,'Graph G(v)',false);
    Plotly.react(p[0],a.data,a.layout,cfg);Plotly.react(p[1],b.data,b.layout,cfg);}
  else if(k===3){p=panels(1);const g=graphFig(v,true,'The clique complex: triangles filled',true);Plotly.react(p[0],
  g.data,g.layout,cfg);}
  else if(k===4){if(D.birth){p=panels(2);const a=graphFig(Math.max(1,D.birth-1),true,
  'Step '+(D.birth-1)+': no hole yet',false),
      b=graphFig(D.birth,true,'Step '+D.birth+': a hole is born',true);Plotly.react(p[0],a.data,a.layout,cfg);
  Plotly.react(p[1],b.data,b.layout,cfg);}
    else{p=panels(1);const g=graphFig(N,true,'Every step: no hole ever',false);Plotly.react(p[0],g.data,g.layout,cfg);}}
  else if(k===5){p=panels(2);const a=graphFig(v,true,'Graph and clique complex',true),b=bettiFig(v,'Betti curves');
    Plotly.react(p[0],a.data,a.layout,cfg);Plotly.react(p[1],b.data,b.layout,cfg);}
  else if(k===6){p=panels(2);p[0].innerHTML='<div id="big">b(U, 1) = '+(D.birth||'no birth')+'</div>';
    const b=bettiFig(0,'β1 first leaves 0 at the birth time');Plotly.purge(p[1]);Plotly.react(p[1],b.data,b.layout,cfg);}
  else if(k===7){p=panels(2);Plotly.react(p[0],D.figs.hist_a.data,D.figs.hist_a.layout,cfg);Plotly.react(p[1],
  D.figs.hist_b.data,D.figs.hist_b.layout,cfg);}
  else{p=panels(2);const cols=Object.keys(D.table[0]);
    p[0].innerHTML='<table><tr>'+cols.map(c=>'<th>'+c+'</th>').join('')+'</tr>'+D.table.map(r=>'<tr>'+cols.map(c=>'<td>'+r[c]+'</td>').join('')+'</tr>').join('')+'</table>';
    Plotly.react(p[1],D.figs.entropy.data,D.figs.entropy.layout,cfg);}
}
function setStep(v){S.step=Math.min(Math.max(1,v),N);draw();}
function stop(){if(S.timer){clearTimeout(S.timer);S.timer=null;}$('play').textContent='▶ Play';}
function next(){if($('jumps').checked){const j=D.jumps.find(x=>x>S.step);return j===undefined?N+1:j;}return S.step+1;}
function tick(){const n=next();if(n>N){stop();return;}
  S.timer=setTimeout(tick,1000/Math.max(0.5,parseFloat($('speed').value)||2));setStep(n);S.frames++;
  S.times.push(performance.now());}
function play(){if(S.timer){stop();return;}if(S.step>=N)setStep(1);S.frames=0;S.times=[];S.started=performance.now();
  $('play').textContent='❚❚ Pause';S.timer=setTimeout(tick,1000/Math.max(0.5,parseFloat($('speed').value)||2));}
D.stages.forEach((name,i)=>{const b=document.createElement('button');b.textContent=name;b.onclick=()=>{stop();S.stage=i;
  draw();};$('stages').appendChild(b);});
$('slider').max=N;$('slider').oninput=e=>{stop();setStep(parseInt(e.target.value));};
$('back').onclick=()=>{stop();setStep(S.step-1);};$('fwd').onclick=()=>{stop();setStep(S.step+1);};$('play').onclick=play;
document.addEventListener('keydown',e=>{if(e.target.tagName==='INPUT')return;
  if(e.key==='ArrowRight'){stop();S.stage=Math.min(8,S.stage+1);draw();}if(e.key==='ArrowLeft'){stop();
  S.stage=Math.max(0,S.stage-1);draw();}
  if(e.key===' '){e.preventDefault();play();}});
draw();
})();
"""
