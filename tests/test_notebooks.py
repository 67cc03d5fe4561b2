"""The review notebooks stay narrative: short code cells, no printed number typed into code."""

from __future__ import annotations

import ast
import re

import nbformat
import pandas as pd
import pytest

from conftest import REPO
from metakit.publish.build import discover_reviews

REVIEWS = discover_reviews(REPO)
NUMERIC = ("estimate", "ci_low", "ci_high", "p_value", "z", "i2", "q", "q_df", "q_pval", "tau2",
           "k", "n")
MAX_CODE_LINES = 700
MAX_FUNCTION_LINES = 10


def _code(review: str) -> list[str]:
    notebook = nbformat.read(REPO / "notebooks" / f"{review}.ipynb", as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _lines(source: str) -> list[str]:
    return [line for line in source.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _printed_numbers(review: str) -> set[float]:
    published = pd.read_csv(REPO / "data" / review / "published.csv", dtype=str)
    numbers = set()
    for column in NUMERIC:
        if column in published.columns:
            for text in published[column].dropna():
                match = re.search(r"-?\d+(\.\d+)?", text.replace("−", "-"))
                if match:
                    numbers.add(float(match.group(0)))
    return numbers


def _literals(source: str) -> list[float]:
    tree = ast.parse("\n".join(line for line in source.splitlines()
                               if not line.lstrip().startswith(("%", "!"))))
    return [float(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)]


def test_the_notebooks_hold_at_most_700_code_lines_in_all():
    total = sum(len(_lines(source)) for review in REVIEWS for source in _code(review))
    assert total <= MAX_CODE_LINES, total


@pytest.mark.parametrize("review", REVIEWS)
def test_no_code_cell_types_a_number_the_paper_prints(review):
    printed = _printed_numbers(review)
    typed = [(i, x) for i, source in enumerate(_code(review)) for x in _literals(source)
             if x in printed]
    assert not typed, f"{review}: code cells type printed numbers (cell, value): {typed}"


@pytest.mark.parametrize("review", REVIEWS)
def test_no_notebook_function_is_longer_than_ten_lines(review):
    for source in _code(review):
        tree = ast.parse("\n".join(line for line in source.splitlines()
                                   if not line.lstrip().startswith(("%", "!"))))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= MAX_FUNCTION_LINES, (review, node.name, length)


def test_the_literal_check_can_fail():
    assert 0.72 in _printed_numbers("ovarian")
    assert _literals("x = f(0.72, level=95)") == [0.72, 95.0]
