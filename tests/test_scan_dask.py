"""``metakit scan --scheduler``: the same scan on a Dask distributed cluster (a LocalCluster)."""

from __future__ import annotations

import csv

import pytest

from metakit.__main__ import main
from metakit.scan import scan_files

distributed = pytest.importorskip("distributed")

PAPER = "Relapse was rarer (RR 0.72, 95% CI 0.58 to 0.89; p = 0.003).\n"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1", dashboard_address=None,
                                  scheduler_port=0) as local:
        yield local


@pytest.mark.slow
def test_scan_on_a_local_cluster_equals_the_local_scan(cluster, tmp_path):
    files = []
    for i in range(6):
        files.append(tmp_path / f"paper{i}.txt")
        files[-1].write_text(PAPER.replace("0.72", f"0.7{i}"))
    (tmp_path / "empty.txt").write_text("")
    files.append(tmp_path / "empty.txt")
    remote = scan_files(files, scheduler=cluster.scheduler_address)
    local = scan_files(files)
    assert [(s.file, s.rows, s.error) for s in remote] == [(s.file, s.rows, s.error)
                                                            for s in local]
    assert remote[-1].error == "empty file"


@pytest.mark.slow
def test_cli_scheduler_option(cluster, tmp_path, capsys):
    (tmp_path / "papers").mkdir()
    for i in range(3):
        (tmp_path / "papers" / f"p{i}.md").write_text(PAPER)
    out = tmp_path / "out"
    status = main(["scan", str(tmp_path / "papers"), "--out", str(out), "--scheduler",
                   cluster.scheduler_address, "--quiet"])
    assert status == 0
    with open(out / "scan.csv", newline="") as stream:
        assert len(list(csv.DictReader(stream))) == 3


@pytest.mark.slow
def test_unreachable_scheduler_is_an_invalid_request(tmp_path, capsys):
    (tmp_path / "p.txt").write_text(PAPER)
    status = main(["scan", str(tmp_path / "p.txt"), "--out", str(tmp_path / "out"),
                   "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    assert status == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
