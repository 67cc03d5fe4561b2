"""Dossier features beyond the core kinds: joined per-study tables, partial pools of counts
(kinds/proportions.py), the Freeman-Tukey checks in checks.yaml, Egger's test per analysis
(``bias: true``) and the tests of subgroup differences nobody printed."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from metafor_reference import reference
from metakit import escalc, metaprop, subgroup
from metakit.engine.cohort import proportion
from metakit.workbook import load_dossier, run
from metakit.workbook.dossier import DossierError

BCG = Path(__file__).parent / "fixtures" / "bcg"

STUDIES = """study,n,group,source
A,10,old,test
B,20,old,test
C,8,young,test
D,30,young,test
"""
MEMBERS = """timepoint_months,study,source
6,A,test
6,B,test
6,C,test
12,A,test
12,D,test
"""
COUNTS = """study,timepoint_months,events,n,source
A,6,7,10,test
B,6,15,20,test
C,6,,8,test
A,12,9,10,test
D,12,25,30,test
"""
PUBLISHED = """analysis_id,outcome,measure,estimate,ci_low,ci_high,i2,k,source,subgroup
rate_12,rate at 12,proportion_pct,84.0,71.0,93.0,,2,test,overall
rate_6_old,rate at 6,proportion_pct,73.6,55.5,88.6,,,test,old
"""
ANALYSES = {"analyses": [{
    "id": "partial", "kind": "partial_pool", "title": "members with counts", "data": "members",
    "join": {"studies": "study"}, "subgroups": "group",
    "effect": {"measure": "PFT", "source": "proportions", "columns": {"xi": "events", "ni": "n"}},
    "model": {"method": "DL"},
    "options": {"counts": "counts", "match": ["study", "timepoint_months"],
                "by": "timepoint_months"},
    "answers": {"overall": [], "groups": {"12: overall": "rate_12"}, "scale": 100}}]}
CHECKS = {"checks": [{
    "check": "ft_ci", "label": "6 months, old: metaprop pool of A and B",
    "args": {"estimate": "@rate_6_old.estimate", "ci_low": "@rate_6_old.ci_low",
             "ci_high": "@rate_6_old.ci_high", "percent": True,
             "sizes": {"values": "members.n", "where": {"timepoint_months": "6", "group": "old"},
                       "join": {"studies": "study"}}},
    "source": "test", "result": "rate_6_old"}]}


@pytest.fixture
def small(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    (folder / "review.yaml").write_text(
        "id: small\ntitle: t\ncitation: c\ndesign: meta-analysis\nsource: test\n")
    for name, text in (("studies", STUDIES), ("members", MEMBERS), ("counts", COUNTS),
                       ("published", PUBLISHED)):
        (folder / f"{name}.csv").write_text(text)
    (folder / "analyses.yaml").write_text(yaml.safe_dump(ANALYSES))
    (folder / "checks.yaml").write_text(yaml.safe_dump(CHECKS))
    return folder


def test_a_per_study_table_is_joined_on_study(small):
    dossier = load_dossier(small)
    rows = dossier.select("members", {"timepoint_months": "6", "group": "old"}, join={"studies": "study"})
    assert list(rows["study"]) == ["A", "B"] and list(rows["n"]) == [10, 20]
    with pytest.raises(DossierError, match="counts.csv: column 'study' repeats 'A'"):
        dossier.select("members", join={"counts": "study"})


def test_partial_pools_cover_the_members_that_have_counts(small):
    frame = run(small).frame().set_index("analysis_id")
    # 6 months: A 7/10 and B 15/20 have counts, C (8) has none
    both = metaprop(np.array([7.0, 15.0]), np.array([10.0, 20.0]), measure="PFT", method="DL")
    back = both.fit.back_transform()
    row = frame.loc["partial_6_overall"]
    assert row["verdict"] == "new" and row["k"] == 2
    assert row["estimate"] == pytest.approx(100 * back["estimate"], rel=1e-9)
    assert row["note"] == "partial: 2 of 3 studies (A 7/10, B 15/20)"
    assert frame.loc["partial_6_old", "note"].startswith("partial: 2 of 2")
    assert "partial_6_young" not in frame.index           # C has no count
    # 12 months, one study per group: its Wilson interval
    wilson = proportion(25, 30, "wilson", 95)
    assert frame.loc["partial_12_young", "ci_low"] == pytest.approx(100 * wilson.low)
    assert frame.loc["partial_12_young", "model"] == "single study, Wilson CI"
    # the complete pool answers its published row
    assert frame.loc["rate_12", "verdict"] in ("reproduced", "discrepant")
    assert frame.loc["rate_12", "note"].startswith("2 of 2 studies with counts (A 9/10, D 25/30)")


def test_a_pool_the_analysis_does_not_have_is_refused(small):
    analyses = yaml.safe_load((small / "analyses.yaml").read_text())
    analyses["analyses"][0]["answers"]["groups"] = {"24: overall": "rate_12"}
    (small / "analyses.yaml").write_text(yaml.safe_dump(analyses))
    with pytest.raises(DossierError, match="answers a pool '24: overall' that it does not have"):
        run(small)


def test_freeman_tukey_checks_read_joined_sizes(small):
    # rate_6_old prints the metaprop pool of A 7/10 and B 15/20: 73.6% (55.5-88.6%)
    review = run(small)
    [(spec, check)] = review.cross
    assert check.name == "ft_ci" and check.inputs["sizes"] == "10, 20"
    assert check.verdict == "consistent" and "harmonic mean n = 13.3" in check.explanation
    assert review.frame().set_index("analysis_id").loc["rate_6_old", "verdict"] == "consistent"
    checks = yaml.safe_load((small / "checks.yaml").read_text())
    checks["checks"][0]["args"]["sizes"]["where"]["group"] = "young"   # C alone, n = 8
    (small / "checks.yaml").write_text(yaml.safe_dump(checks))
    assert run(small).frame().set_index("analysis_id").loc["rate_6_old", "verdict"] \
        == "inconsistent"


@pytest.fixture
def bcg(tmp_path):
    target = tmp_path / "bcg"
    shutil.copytree(BCG, target)
    analyses = yaml.safe_load((target / "analyses.yaml").read_text())
    analyses["analyses"][0]["bias"] = True
    extra = dict(analyses["analyses"][0], id="rr_ee", title="fixed effect", answers=[],
                 model={"method": "EE"}, robustness=False, bias=False)
    analyses["analyses"].append(extra)
    (target / "analyses.yaml").write_text(yaml.safe_dump(analyses, sort_keys=False))
    return target


def test_egger_rows_for_analyses_flagged_bias(bcg):
    review = run(bcg)
    frame = review.frame().set_index("analysis_id")
    metafor = reference()["bias"]["bcg_RR|REML"]["regtest"]
    assert frame.loc["rr_egger", "estimate"] == pytest.approx(metafor["zval"], rel=1e-6)
    assert frame.loc["rr_egger", "p_value"] == pytest.approx(metafor["pval"], rel=1e-6)
    assert review.bias_table().set_index("analysis_id").loc["rr", "df"] == metafor["dfs"]
    assert "rr_ee_egger" not in frame.index


def test_the_papers_minimum_k_for_a_bias_test_is_honoured(bcg):
    meta = yaml.safe_load((bcg / "review.yaml").read_text())
    meta["rules"]["bias_min_k"] = {"value": 20, "source": "test"}
    (bcg / "review.yaml").write_text(yaml.safe_dump(meta))
    review = run(bcg)
    note = "k = 13, below the paper's own minimum of 20 for a bias test"
    assert review.bias_table()["note"].tolist() == [note]
    row = review.frame().set_index("analysis_id").loc["rr_egger"]
    assert row["verdict"] == "new" and note in row["note"]


def test_subgroup_differences_of_the_robust_model_and_of_new_analyses(bcg):
    frame = run(bcg).frame().set_index("analysis_id")
    data = load_dossier(bcg).table("studies")
    es = escalc("RR", ai=data["ai"], bi=data["bi"], ci=data["ci"], di=data["di"])
    robust = subgroup(es["yi"], es["vi"], data["latitude"].tolist(), method="REML", test="knha")
    assert frame.loc["rr_robust_between", "p_value"] == pytest.approx(robust.q_between_pval)
    fixed = subgroup(es["yi"], es["vi"], data["latitude"].tolist(), method="EE")
    assert frame.loc["rr_ee_between", "q"] == pytest.approx(fixed.q_between)
    assert frame.loc["rr_ee_between", "verdict"] == "new"
    assert math.isnan(frame.loc["rr_ee_between", "estimate"])
