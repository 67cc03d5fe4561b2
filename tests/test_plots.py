"""Figures: structure checks on the Axes, errors on empty data, and a few image snapshots."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.testing.compare import compare_images

from metakit import (
    metaprop,
    plots,
    rma,
    rma_mh,
    rma_peto,
    subgroup,
)
from metakit.plots._style import ROB_COLOURS

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("METAKIT_UPDATE_SNAPSHOTS") == "1"


def data(k, seed=0):
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.02, 0.5, k)
    yi = rng.normal(-0.3, 0.3, k) + rng.normal(0, np.sqrt(vi))
    return yi, vi, [f"Study {i + 1} ({2000 + i})" for i in range(k)]


def fit(k, measure="RR", seed=0, **kw):
    yi, vi, slab = data(k, seed)
    return rma(yi, vi, measure=measure, slab=slab, **kw)


def gid(fig, name):
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == name]


def texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
    return out


def diamond_extent(patch):
    xs = patch.get_xy()[:, 0]
    return xs.min(), xs.max()


# ----------------------------------------------------------------------------- forest
@pytest.mark.parametrize("k", [2, 12, 30])
def test_forest_squares_labels_and_diamond(k):
    res = fit(k)
    fig = plots.forest(res)
    squares = gid(fig, "study-squares")
    assert len(squares) == 1 and len(squares[0].get_offsets()) == k
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = texts(fig)
    for s in res.slab:
        assert s in labels
    assert "Total (95% CI)" in labels
    assert any(t.startswith("Heterogeneity: Tau² =") and "I² =" in t for t in labels)
    assert any(t.startswith("Test for overall effect: Z =") for t in labels)
    assert {"Favours control", "Favours MSC"} <= set(labels)
    (diamond,) = gid(fig, "diamond-overall")
    lo, hi = diamond_extent(diamond)
    assert abs(lo - np.exp(res.ci_low)) < 1e-9 and abs(hi - np.exp(res.ci_high)) < 1e-9
    assert gid(fig, "diamond-subgroup") == []
    # the figure grows with the rows, so every row keeps its height
    assert fig.get_figheight() > 0.19 * (k + 3)


def test_forest_weights_and_columns():
    res = fit(5)
    cols = {"MSC\nevents/total": ["3/20", "4/21", "5/22", "6/23", "7/24"],
            "Control\nevents/total": ["1/20", "2/21", "3/22", "4/23", "5/24"]}
    labels = texts(plots.forest(res, columns=cols))
    assert "MSC\nevents/total" in labels and "7/24" in labels
    for w in res.weights:
        assert f"{w:.1f}%" in labels
    with pytest.raises(ValueError, match="columns"):
        plots.forest(res, columns={"x": [1, 2]})


@pytest.mark.parametrize("measure", ["OR", "HR"])
def test_forest_log_axis_for_ratios(measure):
    fig = plots.forest(fit(6, measure))
    assert fig.axes[0].get_xscale() == "log"
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "1" in ticks


def test_forest_linear_for_differences_and_model_scale():
    res = fit(6, "MD")
    fig = plots.forest(res)
    assert fig.axes[0].get_xscale() == "linear"
    lo, hi = diamond_extent(gid(fig, "diamond-overall")[0])
    assert abs(lo - res.ci_low) < 1e-9 and abs(hi - res.ci_high) < 1e-9
    fig = plots.forest(fit(6, "RR"), back_transform=False)
    assert fig.axes[0].get_xscale() == "linear"
    null = gid(fig, "null-line")[0]
    assert np.allclose(null.get_segments()[0][:, 0], 0)


@pytest.mark.parametrize("k", [12, 30])
def test_forest_subgroups(k):
    yi, vi, slab = data(k)
    groups = ["A" if i % 3 else "B" for i in range(k)] if k == 12 else \
        [["A", "B", "C"][i % 3] for i in range(k)]
    sr = subgroup(yi, vi, groups, measure="RR", slab=slab)
    fig = plots.forest(sr.overall, groups=groups, subgroup_results=sr)
    n_levels = len(set(groups))
    subs = gid(fig, "diamond-subgroup")
    assert len(subs) == n_levels
    for patch, level in zip(subs, sr.groups):
        lo, hi = diamond_extent(patch)
        assert abs(lo - np.exp(sr.groups[level].ci_low)) < 1e-9
        assert abs(hi - np.exp(sr.groups[level].ci_high)) < 1e-9
    assert len(gid(fig, "study-squares")[0].get_offsets()) == k
    labels = texts(fig)
    assert labels.count("Subtotal (95% CI)") == n_levels
    assert any(t.startswith("Test for subgroup differences: Chi² =") for t in labels)
    # groups inferred from the subgroup fits' labels; a SubgroupResult alone also works
    fig2 = plots.forest(sr)
    assert len(gid(fig2, "diamond-subgroup")) == n_levels
    # a plain mapping level -> fit
    fig3 = plots.forest(sr.overall, groups=groups, subgroup_results=dict(sr.groups))
    assert len(gid(fig3, "diamond-subgroup")) == n_levels


def test_forest_subgroup_errors():
    yi, vi, slab = data(6)
    sr = subgroup(yi, vi, list("AABBCC"), measure="RR", slab=slab)
    with pytest.raises(ValueError, match="groups"):
        plots.forest(sr.overall, groups=list("AABBCD"), subgroup_results=sr)
    with pytest.raises(ValueError, match="groups"):
        plots.forest(sr.overall, groups=list("AAB"), subgroup_results=sr)


def test_forest_prediction_interval_and_arrows():
    res = fit(8)
    fig = plots.forest(res, show_pi=True, xlim=(0.5, 2))
    (pi,) = gid(fig, "prediction-interval")
    assert "Prediction interval" in texts(fig)
    assert len(gid(fig, "ci-arrows")) >= 1
    assert pi.get_xdata()[0] >= 0.5


def test_forest_proportions_metaprop_and_pft():
    mp = metaprop([3, 10, 25, 7], [40, 55, 80, 30], slab=list("ABCD"))
    fig = plots.forest(mp)
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    assert gid(fig, "null-line") == []
    assert 0 <= ax.get_xlim()[1] <= 1
    lo, hi = diamond_extent(gid(fig, "diamond-overall")[0])
    assert abs(lo - mp.prop_low) < 1e-9 and abs(hi - mp.prop_high) < 1e-9
    assert "Favours MSC" not in texts(fig)
    assert "Events" in texts(fig)
    fig = plots.forest(mp.fit)          # RMAResult with measure PFT and ni
    lo, _hi = diamond_extent(gid(fig, "diamond-overall")[0])
    assert abs(lo - mp.prop_low) < 1e-9


def test_forest_errors():
    with pytest.raises(ValueError, match="result"):
        plots.forest(None)
    with pytest.raises(ValueError, match="result"):
        plots.forest(object())
    reg = rma(*data(8)[:2], mods=np.arange(8.0))
    with pytest.raises(ValueError, match="result"):
        plots.forest(reg)


def test_loo_forest():
    res = fit(6)
    frame = pd.DataFrame({"estimate": np.full(6, res.estimate), "ci_low": res.ci_low - 0.1,
                          "ci_high": res.ci_high + 0.1, "i2": np.arange(6.0)}, index=res.slab)
    fig = plots.loo_forest(frame, overall=res)
    assert len(gid(fig, "study-squares")[0].get_offsets()) == 6
    assert fig.axes[0].get_xscale() == "log"
    lo, hi = diamond_extent(gid(fig, "diamond-overall")[0])
    assert abs(lo - np.exp(res.ci_low)) < 1e-9 and abs(hi - np.exp(res.ci_high)) < 1e-9
    with pytest.raises(ValueError, match="frame"):
        plots.loo_forest(frame.iloc[:0], overall=res)
    with pytest.raises(ValueError, match="frame"):
        plots.loo_forest(frame.drop(columns="ci_low"), overall=res)


# ----------------------------------------------------------------------------- funnel
@pytest.mark.parametrize("k", [2, 12, 30])
def test_funnel_filled_open_markers(k):
    res = fit(k, "OR")
    filled = pd.DataFrame({"yi": -res.yi[:3], "vi": res.vi[:3]})
    fig = plots.funnel(res, filled=filled, adjusted=0.1)
    ax = fig.axes[0]
    (obs,) = gid(fig, "observed")
    (opened,) = gid(fig, "filled")
    assert len(obs.get_offsets()) == k
    assert len(opened.get_offsets()) == len(filled)
    assert np.allclose(opened.get_facecolors()[:, :3], 1.0)      # open (white) markers
    assert ax.get_xscale() == "log"
    assert ax.yaxis_inverted()
    assert len([a for a in ax.get_children() if str(a.get_gid()).startswith("contour-")]) == 3


def test_funnel_options_and_errors():
    res = fit(10, "MD")
    fig = plots.funnel(res, contours=None)
    assert fig.axes[0].get_xscale() == "linear"
    assert gid(fig, "filled") == []
    with pytest.raises(ValueError, match="contours"):
        plots.funnel(res, contours=(95,))
    with pytest.raises(ValueError, match="filled"):
        plots.funnel(res, filled=pd.DataFrame({"yi": [0.1]}))
    with pytest.raises(ValueError, match="result"):
        plots.funnel(None)


# ----------------------------------------------------------------------------- RoB
def robins(k):
    levels = ["low", "moderate", "serious", "critical", "no information"]
    cells = [[levels[(i + j) % 5] for j in range(8)] for i in range(k)]
    return pd.DataFrame(cells, index=[f"S{i}" for i in range(k)],
                        columns=[f"D{j}" for j in range(1, 8)] + ["Overall"])


@pytest.mark.parametrize("k", [2, 12, 30])
def test_rob_traffic_light_colours(k):
    frame = robins(k)
    fig = plots.rob_traffic_light(frame, tool="ROBINS-I")
    (cells,) = gid(fig, "rob-cells")
    colours = [to_hex(c) for c in cells.get_facecolors()]
    expected = [to_hex(ROB_COLOURS[v]) for v in frame.to_numpy().ravel()]
    assert colours == expected
    assert to_hex(ROB_COLOURS["low"]) != to_hex(ROB_COLOURS["serious"])
    assert "S0" in texts(fig) and "Overall" in texts(fig)


def test_rob1_and_summary():
    frame = pd.DataFrame({"Random sequence": ["Low", "unclear", "HIGH"],
                          "Blinding": ["low", None, "high risk"]}, index=list("abc"))
    fig = plots.rob_traffic_light(frame, tool="RoB1")
    colours = [to_hex(c) for c in gid(fig, "rob-cells")[0].get_facecolors()]
    assert colours[0] == to_hex(ROB_COLOURS["low"])
    assert colours[2] == to_hex(ROB_COLOURS["unclear"])
    assert colours[3] == to_hex(ROB_COLOURS["no information"])  # empty cell: not reported
    assert colours[4] == to_hex(ROB_COLOURS["high"])
    assert any("Blinding" in t for t in texts(fig))           # long names -> key
    fig = plots.rob_summary(frame, tool="RoB1")
    bars = fig.axes[0].containers
    assert [b.get_label() for b in bars] == ["Low", "Unclear", "High", "No information"]
    widths = np.array([[p.get_width() for p in b] for b in bars])
    assert np.allclose(widths.sum(axis=0), 100)


def test_rob_errors():
    with pytest.raises(ValueError, match="judgements"):
        plots.rob_traffic_light(pd.DataFrame())
    with pytest.raises(ValueError, match="judgements.*'bad'"):
        plots.rob_traffic_light(pd.DataFrame({"D1": ["bad"]}))
    with pytest.raises(ValueError, match="judgements"):
        plots.rob_traffic_light(pd.DataFrame({"D1": ["serious"]}), tool="RoB1")
    with pytest.raises(ValueError, match="tool"):
        plots.rob_summary(robins(2), tool="RoB9")


def test_score_table():
    scores = pd.DataFrame({"Selection": [4, 3], "Comparability": [2, 1], "Outcome": [3, 2],
                           "Total": [9, 6]}, index=["A", "B"])
    fig = plots.score_table(scores, "NOS")
    labels = texts(fig)
    assert labels.count("9") == 1 and "6" in labels
    jadad = pd.DataFrame({"Randomization": [2], "Blinding": [1], "Withdrawals": [1],
                          "Total": [4]}, index=["T"])
    assert "4" in texts(plots.score_table(jadad, "Jadad"))
    with pytest.raises(ValueError, match="scores.*Selection"):
        plots.score_table(scores.assign(Selection=[5, 1]), "NOS")
    with pytest.raises(ValueError, match="scores"):
        plots.score_table(pd.DataFrame(), "NOS")
    with pytest.raises(ValueError, match="scale"):
        plots.score_table(scores, "GRADE")


# ----------------------------------------------------------------------------- others
def test_bubble():
    yi, vi, slab = data(12)
    x = np.linspace(20, 70, 12)
    res = rma(yi + 0.01 * x, vi, mods=np.column_stack([x, np.arange(12.0) % 2]),
              mod_names=["age", "design"], measure="RR", slab=slab)
    fig = plots.bubble(res, "age", labels=True)
    ax = fig.axes[0]
    assert len(gid(fig, "bubbles")[0].get_offsets()) == 12
    line = gid(fig, "fitted-line")[0]
    xs, _ys = line.get_data()
    assert xs[0] == pytest.approx(20) and xs[-1] == pytest.approx(70)
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "age"
    assert plots.bubble(res, 1).axes[0].get_xlabel() == "design"
    with pytest.raises(ValueError, match="moderator"):
        plots.bubble(res, "dose")
    with pytest.raises(ValueError, match="result"):
        plots.bubble(fit(5))


def test_baujat():
    frame = pd.DataFrame({"x": [1.0, 2.0, 0.5], "y": [0.1, 0.4, 0.2]}, index=["a", "b", "c"])
    fig = plots.baujat_plot(frame)
    assert len(gid(fig, "baujat-points")[0].get_offsets()) == 3
    assert {"a", "b", "c"} <= set(texts(fig))
    fig = plots.baujat_plot([1, 2], [3, 4], labels=["p", "q"])
    assert "q" in texts(fig)
    with pytest.raises(ValueError, match="frame_or_x"):
        plots.baujat_plot(frame.iloc[:0])
    with pytest.raises(ValueError, match="frame_or_x"):
        plots.baujat_plot([])
    with pytest.raises(ValueError, match="y"):
        plots.baujat_plot([1, 2], [1])


PRISMA = {"identified": 1234, "duplicates_removed": 321, "screened": 913,
          "excluded_screening": 850, "full_text_assessed": 63, "excluded_full_text": None,
          "included": 12}


def test_prisma():
    fig = plots.prisma(PRISMA, {"No control group": 20, "Review": 16})
    labels = "\n".join(texts(fig))
    assert "(n = 1,234)" in labels and "(n = 12)" in labels
    assert "Reports excluded (n = not reported)" in labels
    assert "No control group (n = 20)" in labels
    boxes = [a for a in fig.axes[0].patches if str(a.get_gid()).startswith("prisma-")]
    assert len(boxes) == 7
    partial = plots.prisma({"included": 5})
    assert "\n".join(texts(partial)).count("n = not reported") == 6
    with pytest.raises(ValueError, match="counts"):
        plots.prisma({})
    with pytest.raises(ValueError, match="counts.*'records'"):
        plots.prisma({"records": 3})
    with pytest.raises(ValueError, match="counts"):
        plots.prisma({"included": -1})
    with pytest.raises(ValueError, match="exclusions"):
        plots.prisma(PRISMA, {"x": 1.5})


def test_import_metakit_does_not_import_matplotlib():
    code = "import sys, metakit; metakit.rma; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_import_metakit_plots_loads_neither_scipy_nor_pandas():
    """Issue 17: scipy (via bubble, forest, funnel) was half of ``import metakit.plots``."""
    code = ("import sys, metakit.plots; "
            "print(sorted(m for m in ('scipy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- snapshots
def _snap_forest():
    yi, vi, slab = data(12, seed=7)
    groups = ["Low risk of bias" if i % 3 else "High risk of bias" for i in range(12)]
    sr = subgroup(yi, vi, groups, measure="RR", slab=slab)
    return plots.forest(sr, show_pi=True)


def _snap_funnel():
    res = fit(15, "OR", seed=3)
    return plots.funnel(res, filled=pd.DataFrame({"yi": -res.yi[:3], "vi": res.vi[:3]}))


def _snap_rob():
    return plots.rob_traffic_light(robins(6))


def _snap_prisma():
    return plots.prisma(PRISMA, {"No control group": 20, "Review or case report": 16})


@pytest.mark.parametrize("name,make", [("forest_subgroups", _snap_forest),
                                       ("funnel", _snap_funnel), ("rob_traffic_light", _snap_rob),
                                       ("prisma", _snap_prisma)])
def test_snapshot(name, make, tmp_path):
    fig = make()
    expected = SNAPSHOTS / f"{name}.png"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        fig.savefig(expected, dpi=80)
        pytest.skip(f"snapshot {expected.name} regenerated")
    assert expected.exists(), f"missing snapshot {expected}; run with METAKIT_UPDATE_SNAPSHOTS=1"
    actual = tmp_path / f"{name}.png"
    fig.savefig(actual, dpi=80)
    result = compare_images(str(expected), str(actual), tol=15)
    assert result is None, result


def test_figures_display_in_notebooks_without_pyplot_at_2x_with_alt_text():
    from metakit import rma
    from metakit.plots import forest

    fig = forest(rma([0.1, 0.3, -0.2], [0.04, 0.05, 0.06], measure="OR", slab=["A", "B", "C"]),
                 title="Fig. 2")
    png, meta = fig._repr_png_()
    assert png.startswith(b"\x89PNG")
    pixels = int.from_bytes(png[16:20], "big")
    assert meta["width"] == round(pixels / 2)          # shown at half its pixel width
    assert abs(meta["width"] - 96 * fig.get_figwidth()) < 0.1 * 96 * fig.get_figwidth()
    assert meta["alt"].startswith("Forest plot: Fig. 2. 3 rows, Odds Ratio, IV, Random")
    assert "Total (95% CI): " in meta["alt"] and "Heterogeneity: Tau²" in meta["alt"]


def test_every_figure_says_what_it_shows():
    res = fit(8, "OR")
    yi, vi, slab = data(12)
    reg = rma(yi, vi, mods=np.linspace(20, 70, 12), mod_names=["age"], measure="RR", slab=slab)
    scores = pd.DataFrame({"Total": [9, 6]}, index=["A", "B"])
    alts = {
        "funnel": plots.funnel(res).alt,
        "rob": plots.rob_traffic_light(robins(3)).alt,
        "summary": plots.rob_summary(robins(3)).alt,
        "bubble": plots.bubble(reg, "age").alt,
        "baujat": plots.baujat_plot([1.0, 3.0], [0.1, 0.2], labels=["p", "q"]).alt,
        "prisma": plots.prisma(PRISMA).alt,
        "scores": plots.score_table(scores, "NOS").alt,
        "loo": plots.loo_forest(pd.DataFrame({"estimate": [0.1, 0.2], "ci_low": [-0.1, 0.0],
                                              "ci_high": [0.3, 0.4]}, index=["a", "b"]),
                                overall=fit(2)).alt,
    }
    assert alts["funnel"].startswith("Funnel plot. 8 studies, Odds Ratio (log scale) against")
    assert "significance contours at 0.9, 0.95, 0.99" in alts["funnel"]
    assert alts["rob"].startswith("ROBINS-I traffic-light plot. 3 studies by 8 domains;")
    assert "3 studies per judgement in each of 8 domains" in alts["summary"]
    assert alts["bubble"].startswith("Bubble plot. Risk Ratio of 12 studies against age")
    assert "slope = " in alts["bubble"] and "P = " in alts["bubble"]
    assert alts["baujat"].endswith("the largest contribution is q.")
    assert "records identified from databases and registers 1,234" in alts["prisma"]
    assert alts["scores"] == "NOS quality scores. A: Total 9; B: Total 6."
    assert alts["loo"].startswith("Leave-one-out forest plot. 2 rows")
    for name, alt in alts.items():
        assert "nan" not in alt.lower().split() and "e-0" not in alt, name


def test_bubble_p_value_never_in_scientific_notation():
    x = np.linspace(0, 10, 12)
    yi = 0.5 * x + np.random.default_rng(1).normal(0, 0.05, 12)
    reg = rma(yi, np.full(12, 0.01), mods=x, mod_names=["dose"])
    assert "P < 0.00001" in plots.bubble(reg, "dose").axes[0].get_title(loc="right")


def test_single_arm_means_have_no_null_line_and_no_test_against_zero():
    yi = np.array([6.5, 8.0, 3.9, 10.4, 4.0])
    res = rma(yi, np.full(5, 0.2), method="EE", slab=list("ABCDE"))
    fig = plots.forest(res, null=None, favours=("control", "MSC"))
    labels = texts(fig)
    assert gid(fig, "null-line") == []
    assert not any(t.startswith("Test for overall effect") for t in labels)
    assert "Favours MSC" not in labels
    lo, hi = fig.axes[0].get_xlim()
    assert 0 < lo <= 3.9 - 1 and 10.4 + 1 <= hi < 20      # the data's range, not -50 to 50
    with pytest.raises(ValueError, match="null"):
        plots.forest(res, null="zero")


def test_favours_follow_one_convention_and_the_null_line_skips_text_rows():
    yi, vi, slab = data(9)
    groups = ["A" if i % 3 else "B" for i in range(9)]
    sr = subgroup(yi, vi, groups, measure="RR", slab=slab)
    fig = plots.forest(sr, favours=("standard care", "Favours MSC"))
    labels = texts(fig)
    assert {"Favours standard care", "Favours MSC"} <= set(labels)
    (null,) = gid(fig, "null-line")
    segments = null.get_segments()
    assert len(segments) == 3                  # subgroup A, subgroup B, the total: three runs
    ax = fig.axes[0]
    text_rows = [t.get_position()[1] for t in ax.texts if t.get_text().startswith("Hetero")]
    for y in text_rows:
        assert not any(min(s[:, 1]) < y < max(s[:, 1]) for s in segments)


def test_arm_columns_as_revman_prints_them():
    cols = plots.arm_columns(ai=[3, 4], n1i=[20, 21], ci=[1, 2.0], n2i=[20, 22])
    assert cols == {"MSC\nEvents": ["3", "4"], "MSC\nTotal": ["20", "21"],
                    "Control\nEvents": ["1", "2"], "Control\nTotal": ["20", "22"]}
    cont = plots.arm_columns(m1i=[3.3], sd1i=[0.9], n1i=[12], m2i=[-4.6], sd2i=[1.5], n2i=[10],
                             labels=("MSC", "Autograft"))
    assert cont["Autograft\nMean"] == ["\u22124.6"] and cont["MSC\nSD"] == ["0.9"]
    res = fit(2, "RR")
    labels = texts(plots.forest(res, columns=cols))
    assert "MSC\nEvents" in labels and "22" in labels
    with pytest.raises(ValueError, match="arm_columns"):
        plots.arm_columns(ai=[1], n1i=[2])
    with pytest.raises(ValueError, match="differ in length"):
        plots.arm_columns(ai=[1, 2], n1i=[2, 3], ci=[1], n2i=[2])


def test_prisma_shows_every_count_the_data_have():
    fig = plots.prisma({**PRISMA, "sought": 63, "not_retrieved": 0, "participants": 233},
                       {"No control group": 20},
                       sources={"MEDLINE": 308, "Embase": 443},
                       screening_exclusions={"not relevant": 800, "animal models": 50})
    labels = "\n".join(texts(fig))
    for expected in ("MEDLINE (n = 308)", "Embase (n = 443)", "not relevant (n = 800)",
                     "Reports sought for retrieval\n(n = 63)", "Reports not retrieved\n(n = 0)",
                     "Participants (n = 233)"):
        assert expected in labels, expected
    boxes = [a for a in fig.axes[0].patches if str(a.get_gid()).startswith("prisma-")]
    assert len(boxes) == 9
    with pytest.raises(ValueError, match="sources.*'PubMed'"):
        plots.prisma(PRISMA, sources={"PubMed": -1})


def test_funnel_of_transformed_proportions_names_the_scale():
    from metakit import metaprop

    fig = plots.funnel(metaprop([2, 5, 9, 1], [20, 25, 30, 15]))
    assert fig.axes[0].get_xlabel() == "Proportion (Freeman-Tukey double arcsine)"


def test_a_mantel_haenszel_forest_names_its_method_as_revman_does():
    counts = dict(ai=[4, 6, 3, 0], bi=[119, 300, 200, 50], ci=[11, 29, 10, 0],
                  di=[128, 274, 200, 50], slab=["A", "B", "C", "D"])
    for fit, header in ((rma_mh(measure="RR", **counts), "M-H, Fixed, 95% CI"),
                        (rma_mh(measure="OR", random=True, **counts), "M-H, Random, 95% CI"),
                        (rma_peto(**counts), "Peto, Fixed, 95% CI")):
        figure = plots.forest(fit)
        texts = [t.get_text() for t in (*figure.texts, *(t for ax in figure.axes for t in ax.texts))]
        assert any(header in t for t in texts), (fit.method, texts)
        assert "Not estimable" in texts          # D: a double-zero table
        assert "Experimental\nEvents" in texts and "Control\nTotal" in texts
        assert texts[texts.index("A") + 1:texts.index("A") + 5] == ["4", "123", "11", "139"]
        weights = [t for t in texts if re.fullmatch(r"\d+\.\d%", t) and t != "100.0%"]
        assert weights[:3] == [f"{w:.1f}%" for w in fit.weights[:3]]


def test_bubble_labels_neither_overlap_nor_leave_the_axes():
    # two studies 0.02 apart on both axes, and one at the right edge (as iua's dose plot)
    x = np.array([6.7, 7.0, 7.3, 7.8, 7.82, 8.0, 9.05])
    yi = np.array([3.9, 3.6, 1.8, 1.8, 1.82, 2.7, 2.8])
    vi = np.full(7, 0.1)
    slab = ["Lee 2020", "Ma 2020", "Zhang (Shi) 2021", "Singh 2020", "Other 2019", "Singh 2014",
            "Arikan 2023"]
    figure = plots.bubble(rma(yi, vi, mods=x, slab=slab), labels=True)
    renderer = figure.canvas.get_renderer()
    ax = figure.axes[0]
    frame = ax.get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text() in slab]
    assert len(boxes) == 7
    for i, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1
        assert not any(box.overlaps(other) for other in boxes[i + 1:])
