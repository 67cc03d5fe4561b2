"""Command line: ``python -m metakit build [options]`` and ``python -m metakit scan PAPER``.

Exit status of ``build``: 0 when every selected review was built (or was unchanged), 1 when any
notebook failed or a report could not be written (a full disk), 2 for an invalid request (unknown
review, bad parameter file, missing notebook, an output folder that is read-only, a file, inside
the project's data/notebooks/params or in use by another build), in which case nothing is written,
and 128 + the signal number when SIGTERM or SIGINT stopped it. Every error is one line on stderr.

Exit status of ``scan``: 0 when every file was read (contradictions found are results, not
errors), 1 when any file could not be read (each named on one line; the others are still
scanned), 2 for an invalid request (no such path, unreadable rule, unreachable scheduler).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m metakit",
                                     description="metakit evidence-synthesis workbook")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser(
        "build", help="execute the review notebooks and write HTML reports and an index",
        description="Execute notebooks/<review>.ipynb with papermill and write self-contained "
                    "HTML reports plus DIR/index.html. Unchanged reviews are skipped.")
    build.add_argument("--only", nargs="+", metavar="REVIEW",
                       help="build only these reviews (default: all)")
    build.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 5), metavar="N",
                       help="notebooks to run at once (default: number of CPUs, at most 5)")
    build.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR",
                       help="output folder (default: reports)")
    build.add_argument("--with-code", action="store_true",
                       help="also write <review>-with-code.html showing the code cells")
    build.add_argument("--params", type=Path, metavar="FILE",
                       help="parameter file instead of params/<review>.yaml (needs one --only)")
    build.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="data folder to use, anywhere (needs one --only); a parameter file "
                            "may only name folders inside the project")
    build.add_argument("--force", action="store_true", help="rebuild unchanged reviews too")
    build.add_argument("--root", type=Path, default=Path.cwd(), metavar="DIR",
                       help="project folder with notebooks/, params/, data/ (default: .)")
    new = commands.add_parser(
        "new", help="scaffold a new review: its dossier, a notebook and a parameter file",
        description="Write data/REVIEW/ (review.yaml, published.csv, analyses.yaml, "
                    "checks.yaml, README.md), notebooks/REVIEW.ipynb and params/REVIEW.yaml.")
    new.add_argument("review", metavar="REVIEW", help="the review id (lower case, e.g. bcg)")
    new.add_argument("--title", help="the review's title")
    new.add_argument("--root", type=Path, default=Path.cwd(), metavar="DIR",
                     help="project folder (default: .)")
    docs = commands.add_parser(
        "docs", help="rewrite the generated parts of README.md and CONTRACTS.md",
        description="Rewrite README's table of where each review stands (from "
                    "DIR/<review>/results.csv: run the build first) and the verdict vocabulary "
                    "in README.md and CONTRACTS.md.")
    docs.add_argument("--results", type=Path, default=Path("reports"), metavar="DIR",
                      help="the build's output folder (default: reports)")
    docs.add_argument("--root", type=Path, default=Path.cwd(), metavar="DIR",
                      help="project folder with README.md, CONTRACTS.md and data/ (default: .)")
    _scan_parser(commands)
    return parser


def _scan_parser(commands: argparse._SubParsersAction) -> None:
    scan = commands.add_parser(
        "scan", help="audit the pooled results printed in papers (text, Markdown, HTML, PDF)",
        description="Extract every printed pooled result of each paper, run the automatic audit "
                    "battery on it, and write scan.csv, summary.csv, scan.html and a draft "
                    "published.csv (one per paper under published/ for several papers).")
    scan.add_argument("papers", nargs="+", type=Path, metavar="PAPER",
                      help="a paper (.txt, .md, .html, .pdf) or a folder of papers")
    scan.add_argument("--out", type=Path, default=Path("scan"), metavar="DIR",
                      help="output folder (default: scan)")
    scan.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                      help="local worker processes for a folder (default: number of CPUs)")
    scan.add_argument("--scheduler", metavar="ADDRESS",
                      help="scan on the Dask distributed cluster of this scheduler "
                           "(tcp://host:8786); its workers must see the files at the same paths")
    scan.add_argument("--rule", metavar="RULE",
                      help="the papers' stated model-choice rule, e.g. 'random if I2 > 50%%', "
                           "checked against the model each result names")
    scan.add_argument("--level", type=float, default=95.0, metavar="PERCENT",
                      help="confidence level of intervals printed without one (default: 95)")
    scan.add_argument("--max-mb", type=float, default=50.0, metavar="MIB",
                      help="refuse files larger than this (default: 50)")
    scan.add_argument("--quiet", action="store_true", help="no progress bar, no summary")


def _scan(args: argparse.Namespace) -> int:
    from metakit.scan.report import write_outputs
    from metakit.scan.runner import SchedulerError, papers_in, scan_files

    if args.jobs < 1:
        print("error: --jobs: must be at least 1", file=sys.stderr)
        return 2
    try:
        papers = papers_in(args.papers)
        if not papers:
            raise ValueError("PAPER: no .txt, .md, .html or .pdf file found")
        bar = None
        if not args.quiet and len(papers) > 1:
            from tqdm import tqdm
            bar = tqdm(total=len(papers), unit="paper", file=sys.stderr)
        try:
            scans = scan_files(papers, jobs=min(args.jobs, len(papers)),
                               scheduler=args.scheduler, rule=args.rule, level=args.level,
                               max_megabytes=args.max_mb, progress=bar.update if bar else None)
        finally:
            if bar is not None:
                bar.close()
    except (SchedulerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for failed in (s for s in scans if s.error):
        print(f"error: {failed.file}: {failed.error}", file=sys.stderr)
    written = write_outputs(scans, args.out)
    if not args.quiet:
        read = [s for s in scans if not s.error]
        totals = {k: sum(s.counts[k] for s in read) for k in ("results", "unread", "checks",
                                                              "inconsistent", "conditional",
                                                              "deviates")}
        print(f"{len(read)} of {len(scans)} paper(s) scanned: {totals['results']} results "
              f"({totals['unread']} unread), {totals['checks']} checks, "
              f"{totals['inconsistent']} contradictions ({totals['conditional']} conditional), "
              f"{totals['deviates']} deviations; wrote {written[0].parent}/"
              f"{{{','.join(p.relative_to(written[0].parent).as_posix() for p in written[:4])}"
              f"{',...' if len(written) > 4 else ''}}}")
    return 1 if any(s.error for s in scans) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    args = _parser().parse_args(argv)
    if args.command == "docs":
        return _docs(args.root.resolve(), args.results)
    if args.command == "new":
        return _new(args.root.resolve(), args.review, args.title)
    if args.command == "scan":
        return _scan(args)
    from metakit.publish.build import BuildError, BuildInterrupted, ParamsError, Project, build

    if args.jobs < 1:
        print("error: --jobs: must be at least 1", file=sys.stderr)
        return 2
    try:
        outcomes = build(Project(args.root.resolve()), args.only, args.out, jobs=args.jobs,
                         params_file=args.params, with_code=args.with_code, force=args.force,
                         data_dir=args.data_dir)
    except (BuildError, ParamsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BuildInterrupted as exc:
        print(f"error: {exc}; run the build again to finish", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: cannot write the reports: {exc}", file=sys.stderr)
        return 1
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _new(root: Path, review: str, title: str | None) -> int:
    from metakit.publish.scaffold import ScaffoldError, new_review

    try:
        written = new_review(root, review, title)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    return 0


def _docs(root: Path, results: Path) -> int:
    from metakit.publish.build import discover_reviews
    from metakit.publish.docs import DocsError, update_docs

    try:
        changed = update_docs(root, discover_reviews(root),
                              results if results.is_absolute() else root / results)
    except DocsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("rewritten: " + ", ".join(p.name for p in changed) if changed else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
