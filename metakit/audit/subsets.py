"""Which included studies can add up to a printed total of patients.

A paper that prints "174 patients in the MSC group and 232 in the control group" for an analysis
of six studies lets a reader ask which of its included studies produce exactly those totals from
the arm sizes of its study table. :func:`matching_subsets` answers by exhaustive search: every
subset of the studies, each study in it entering with one of its possible contributions (a
three-arm trial, say, as its two active arms summed or as one of them, with its shared control arm
counted once or twice). Counts are exact, so a match is an arithmetic fact; whether it is the
analysis the paper ran is for the reader to judge (a total of analysed rather than enrolled
patients matches nothing).

Cost
----
With ``m_i`` alternatives for study ``i`` the search visits every choice, ``N = prod(1 + m_i)``
of them (``2**k`` for ``k`` studies with one alternative each), in ``O(N c)`` time and memory for
``c`` counts per study: the sums of all choices are built at once as one integer array (numpy),
never in a Python loop over subsets. Above :data:`MAX_CHOICES` the search refuses with a
``ValueError`` rather than run for minutes.

References
----------
Brown, N. J. L., & Heathers, J. A. J. (2017). The GRIM test: a simple technique detects numerous
anomalies in the reporting of results in psychology. Social Psychological and Personality
Science, 8(4), 363-369 (checking printed summaries against the integers they must come from).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from metakit.engine._validation import as_float_array

MAX_CHOICES = 1 << 22
"""Most choices searched (4,194,304: 22 studies with one alternative each, about 70 MB of sums
at two counts per study)."""


@dataclass(frozen=True)
class SubsetMatch:
    """One choice of studies whose counts add up to the target.

    Attributes
    ----------
    studies : tuple of str
        The studies in the subset, in the order they were given.
    alternatives : tuple of int
        For each of them, the index of the alternative it entered with.
    """

    studies: tuple[str, ...]
    alternatives: tuple[int, ...]


def _counts(name: str, values: object, width: int | None) -> np.ndarray:
    """Whole counts >= 0: one row (``width`` None) or rows of ``width`` counts."""
    array = as_float_array(name, values, ndim=1 if width is None else 2)
    bad = np.flatnonzero(((array != np.round(array)) | (array < 0)).ravel())
    if bad.size:
        raise ValueError(f"{name}: counts must be whole numbers >= 0, got "
                         f"{array.ravel()[bad[0]]:g}")
    if width is not None and array.shape[1] != width:
        raise ValueError(f"{name}: each alternative needs {width} counts, got {array.shape[1]}")
    return array.astype(np.int64)


def matching_subsets(alternatives: Mapping[str, Sequence[Sequence[int]]],
                     target: Sequence[int], *,
                     max_choices: int = MAX_CHOICES) -> list[SubsetMatch]:
    """Every subset of studies, each entering with one of its alternatives, that sums to ``target``.

    Parameters
    ----------
    alternatives : mapping of str to sequence of sequences of int
        Per study, its possible contributions, each as many whole counts as ``target`` (e.g.
        ``{"Fang": [(50, 53)], "Suk": [(37, 18), (18, 36), ...]}`` as (MSC, control)).
    target : sequence of int
        The printed totals, e.g. ``(174, 232)``.
    max_choices : int
        Largest number of choices searched (:data:`MAX_CHOICES`; the module docstring gives the
        cost).

    Returns
    -------
    list of SubsetMatch
        Smallest subsets first, then in search order. Empty when nothing matches.

    Raises
    ------
    ValueError
        No study, a study without alternatives, counts that are not whole numbers >= 0 or not as
        many as ``target``, or more choices than ``max_choices``.

    Examples
    --------
    >>> [m.studies for m in matching_subsets({"A": [(3, 4)], "B": [(5, 6)], "C": [(8, 10)]},
    ...                                      (8, 10))]
    [('C',), ('A', 'B')]
    """
    goal = _counts("target", target, None)
    names = list(alternatives) if isinstance(alternatives, Mapping) else []
    if not names:
        raise ValueError("alternatives: expected a mapping of study to its alternatives, got "
                         "no study")
    options = [_counts(f"alternatives[{name!r}]", alternatives[name], goal.size)
               for name in names]
    choices = math.prod(len(option) + 1 for option in options)
    if choices > max_choices:
        raise ValueError(f"alternatives: {len(names)} studies give {choices:,} choices, more than "
                         f"max_choices = {max_choices:,} (the search is exponential in the "
                         f"number of studies)")
    sums = np.zeros((1, goal.size), dtype=np.int64)
    for option in options:  # block j of the new array: the study entered with alternative j - 1
        sums = np.concatenate([sums, *(sums + row for row in option)])
    matches = []
    for index in np.flatnonzero((sums == goal).all(axis=1)):
        picked = _decode(int(index), [len(option) + 1 for option in options])
        matches.append(SubsetMatch(tuple(names[i] for i, c in enumerate(picked) if c),
                                   tuple(c - 1 for c in picked if c)))
    return sorted(matches, key=lambda match: len(match.studies))


def _decode(index: int, radices: list[int]) -> list[int]:
    """The choice per study (0: left out, j: alternative j - 1) of one index of the sums."""
    picked = []
    for radix in radices:
        index, choice = divmod(index, radix)
        picked.append(choice)
    return picked
