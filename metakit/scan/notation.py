"""The printed notations of pooled results, as regular expressions over prepared text.

Every pattern reads text prepared by :func:`metakit.scan.text.prepare` (one minus sign ``-``,
one dash ``–``, LaTeX gone). The tests in ``tests/test_scan_notation.py`` show each notation
with an example sentence.

Estimates and bounds
    ``2.28``, ``-0.57``, ``.48``, ``- 0.02`` (a stray space after the sign), ``44.0%``,
    ``6.0062e-31``.
Confidence intervals
    after a keyword (``95% CI``, ``95%CI``, ``CI``, ``95% Cl`` as OCR reads it, ``95%
    confidence interval``, ``99% CI``): ``[15.07, 79.18]``, ``[15.07–79.18]``, ``(1.02, 2.81)``,
    ``[0.3314; 1.7499]``, ``1.02 to 2.81``, ``1.02-2.81``, ``-0.75 to -0.33``, ``38.0 – 50.0%``,
    ``from 1.51 to 9.56``, ``= .38, .58``; a bare bracket after a named estimate (``RR 34.54
    (15.07–79.18)``); a CI legend before the numbers (``Risk Ratio (M-H, Random, 95% CI) 0.95
    [0.91, 0.99]``); the BMJ's shorthand after a first full result (``(0.75, 0.57 to 0.99)``).
Statistics
    ``p = 0.002``, ``P < 0.00001``, ``p-value = 0.1189``, ``p = .``; ``I² = 45%``, ``I2 = 45%``,
    ``I-squared = 45%``, ``I2 statistic of 45%``; ``Q = 12.3``, ``Chi² = 4.00, df = 10``,
    ``χ²(4) = 12.3``, ``Cochran's Q = 12.3``; ``τ² = 0.12``, ``Tau² = 0.12``; ``Z = 8.37``;
    the number of studies (``11 studies``, ``six RCTs``, ``k = 10``) and of patients.
"""

from __future__ import annotations

import re

NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
SIGNED = rf"(?:[-–]\s?)?{NUMBER}"
"""A printed number with an optional sign (a dash or minus, possibly followed by one space)."""

_BOUND = rf"{SIGNED}(?:\s?%{{1,2}})?"
_SEPARATOR = r"\s*(?:–|-|to|,|;)\s*"
BRACKETED = rf"[(\[]\s*(?P<lo>{_BOUND}){_SEPARATOR}(?P<hi>{_BOUND})\s*[)\]]"
"""An interval in brackets: ``(1.02, 2.81)``, ``[15.07–79.18]``, ``[0.3314; 1.7499]``."""
BARE = (rf"(?:(?:from|between|ranging\s+from)\s+)?(?P<lo2>{_BOUND})"
        rf"\s*(?:–|-|to|,|;|and)\s*(?P<hi2>{_BOUND})")
"""An interval without brackets: ``1.02 to 2.81``, ``1.02-2.81``, ``from 1.51 to 9.56``."""

CI_KEYWORD = re.compile(
    r"(?=[Cc])(?P<kind>(?<![A-Za-z])C[Il1]s?\b|(?i:confidence\s+intervals?)|(?<![A-Za-z])CrIs?\b|"
    r"(?i:credible\s+intervals?))(?:\s*\(\s*C[Il]s?\s*\))?")
"""A confidence-interval keyword; ``CrI`` marks a Bayesian credible interval. Its level is
printed just before it (:data:`CI_LEVEL`)."""
CI_LEVEL = re.compile(r"(?:(?P<level>\d{1,2}(?:\.\d+)?)\s?%|%\s?(?P<level2>\d{2}))\s{0,3}$")
"""The level before a CI keyword (``95%``, ``95 %``), searched in the few characters before it."""
AFTER_KEYWORD = re.compile(
    rf"\s*(?:[:=,]\s*|\s(?:of|was|were|is)\s+)?(?:(?:{BRACKETED})|(?:{BARE}))(?!\s?\d)")
"""What follows a CI keyword: the interval itself (see :func:`bounds`)."""


def bounds(match: re.Match[str]) -> tuple[str, str]:
    """The two bounds of a :data:`BRACKETED` or :data:`BARE` interval match."""
    if match.groupdict().get("lo") is not None:
        return match.group("lo"), match.group("hi")
    return match.group("lo2"), match.group("hi2")
LEGEND_THEN_TRIPLE = re.compile(
    rf"\)?[\s:]*(?P<est>{SIGNED})(?P<pct>\s?%)?\s*{BRACKETED}")
"""After a legend such as ``(M-H, Random, 95% CI)``: ``0.95 [0.91, 0.99]``."""
TRIPLE = re.compile(rf"(?=[-–\d.])(?<![\w.])(?P<est>{SIGNED})(?P<pct>\s?%)?\s*{BRACKETED}")
"""An estimate followed by its bracketed interval: ``1.69 (1.02, 2.81)``."""
SHORTHAND = re.compile(
    rf"\(\s*(?P<est>{SIGNED})(?P<pct>\s?%)?\s*[,;]\s*(?P<lo>{_BOUND})\s*(?:to|–)\s*"
    rf"(?P<hi>{_BOUND})\s*\)")
"""The BMJ's ``(0.75, 0.57 to 0.99)`` after a first result printed in full."""

UNITS = (r"mm|cm|m|kg|g|mg|µg|ml|mL|months?|weeks?|days?|years?|hours?|h|min|points?|mmHg|"
         r"mg/dL|mg/dl|mmol/L|mmol/l|µmol/L|g/L|g/dL|IU/L|U/L|kcal|bpm|seconds?|s|ng/mL|pg/mL")
NUMBER_TOKEN = re.compile(
    rf"(?=[-–\d.])(?<![\w.^/])(?P<num>{SIGNED})(?P<pct>\s?%)?(?:\s?(?P<unit>(?:{UNITS}))(?![\w/]))?")
"""A number in running text, with a percent sign or unit when printed."""
LABELLED_BRACKET = re.compile(
    rf"\s*(?:[=:,]\s*|\s(?:of|was|is)\s+)?(?P<est>{SIGNED})(?P<pct>\s?%)?"
    rf"(?:\s?(?:{UNITS}))?\s*{BRACKETED}")
"""After a measure label, an estimate and a bracketed interval: ``RR 34.54 (15.07–79.18)``."""

# Measure labels: (pattern, measure). Abbreviations are case-sensitive, words are not.
_MEASURES = (
    (r"(?i:weighted\s+mean\s+differences?)|WMDs?", "WMD"),
    (r"(?i:standardi[sz]ed\s+mean\s+differences?|std\.?\s+mean\s+differences?|hedges'?\s*g|"
     r"cohen'?s\s*d)|SMDs?", "SMD"),
    (r"(?i:mean\s+differences?)|MDs?", "MD"),
    (r"(?i:odds\s+rati(?:os?|ons?))|ORs?", "OR"),  # "odds ration": a typo seen in print
    (r"(?i:hazard\s+ratios?)|HRs?", "HR"),
    (r"(?i:incidence\s+rate\s+ratios?|rate\s+ratios?)|IRRs?", "IRR"),
    (r"(?i:risk\s+ratios?|relative\s+risks?)|RRs?", "RR"),
    (r"(?i:risk\s+differences?)|RDs?", "RD"),
    (r"(?i:ratios?\s+of\s+means|response\s+ratios?)|ROMs?", "ROM"),
    (r"(?i:prevalence|proportions?|incidence|rates?)", "proportion"),
    (r"(?i:mean)", "mean"),
    (r"(?i:effect\s+sizes?|pooled\s+estimates?|estimates?)|ESs?|μ", "generic"),
)
MEASURE_LABEL = re.compile(
    "(?<![A-Za-z])(?=[A-Za-zμ])(?:"
    + "|".join(f"(?P<m{i}>{pattern})" for i, (pattern, _) in enumerate(_MEASURES))
    + ")(?![A-Za-z])")
"""Any measure label; :func:`measure_of` names the measure of a match."""
SHORT_LABEL = re.compile(r"(?<![A-Za-z])(?P<label>g|d|r)\s*=\s*(?=[-–.\d])")
"""One-letter labels of psychology papers (``g = 0.45``, ``d = .30``, ``r = .32``)."""
RATIO_OR_DIFFERENCE = frozenset({"WMD", "SMD", "MD", "OR", "HR", "IRR", "RR", "RD", "ROM"})


def measure_of(match: re.Match[str]) -> str:
    """The measure named by a :data:`MEASURE_LABEL` match."""
    return _MEASURES[int(match.lastgroup[1:])][1]  # type: ignore[index]


_OPERATOR = r"(?P<op>=\s?[<>≤≥]|=|<=|>=|<|>|≤|≥|:)"
STATISTIC = re.compile(
    r"(?=[hHiIoOtTbBsSeEpPfFl1QCcχdDτzZrRmMgG0-9])"
    r"(?:(?P<het>(?i:heterogeneity|inconsistency))"
    r"|(?P<effect>(?i:overall\s+effect|test\s+for\s+(?:the\s+)?overall))"
    r"|(?P<stop>(?i:between[- ](?:the\s+)?(?:two\s+)?(?:groups?|subgroups?|etiologies)|"
    r"subgroup\s+differences?|interaction|egger|begg|publication\s+bias|funnel|trim))"
    rf"|(?<![A-Za-z])(?:[Pp](?:\s*-?\s*values?)?)\s*{_OPERATOR}\s*(?P<p>{NUMBER}|\.(?!\d))"
    r"|(?<![A-Za-z])(?:I|l|1)\s?(?:²|\^?2(?![\d.])|\*2|-\s?2(?![\d.])|\(\s?2\s?\)|"
    r"-?\s?squared)(?:\s+statistic)?\s*"
    rf"(?:=|:|\s(?:of|was|equals?|is)\s)\s*(?P<i2>{NUMBER})\s?%?"
    r"|(?:(?<![A-Za-z])Q|Cochran'?s\s+Q|χ\s?²|χ\s?2|(?i:chi)\s?²|(?i:chi)\s?2|"
    r"(?i:chi-?\s?squared?))"
    rf"(?:\s*\(\s*(?P<qdf>\d+)\s*\))?\s*(?:=|:|\s(?:of|was|equals?|is)\s)\s*(?P<q>{NUMBER})"
    r"|(?<![A-Za-z])(?:df|d\.f\.|(?i:degrees\s+of\s+freedom))\s*(?:=|:|\s(?:of|was|is)\s)?\s*"
    r"(?P<df>\d+|(?i:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve))\b"
    r"|(?:τ|(?<![A-Za-z])(?i:tau))\s?(?:²|2|-?\s?squared)\s*(?:=|:|\s(?:of|was|is)\s)\s*"
    rf"(?P<tau2>{NUMBER})"
    rf"|(?<![A-Za-z])[Zz]\s*(?:-?\s?(?:score|value|statistic))?\s*=\s*(?P<z>{SIGNED})"
    r"|(?P<random>(?i:random[- ]?effects?|randomi[sz]ed[- ]effects?|dersimonian))"
    r"|(?P<fixed>(?i:fixed[- ]?effects?|common[- ]effects?|mantel[- ]haenszel))"
    rf"|(?P<pi>(?:\d{{2}}\s?%\s?)?(?:\bPI\b|(?i:prediction\s+intervals?))\s*[:=,]?\s*"
    rf"(?:\[|\()?\s*{SIGNED}\s*(?:–|-|to|,|;)\s*{SIGNED}\s*[)\]]?))")
"""Statistics printed with a result, and the words that say which test a p-value belongs to."""

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
         "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
         "twenty": 20}
STUDIES = re.compile(
    r"(?<![\w.])(?P<k>\d+|(?i:" + "|".join(WORDS) + r"))\s+(?:[A-Za-z-]+\s+){0,2}?"
    r"(?i:studies|trials|RCTs|articles|publications|cohorts|datasets|comparisons|effect\s+sizes)"
    r"\b|(?<![A-Za-z])k\s*=\s*(?P<k2>\d+)")
PATIENTS = re.compile(
    r"(?<![\w.])(?P<n>\d{1,3}(?:[ ,]\d{3})+|\d+)\s+(?:[A-Za-z-]+\s+)?"
    r"(?i:patients|participants|subjects|women|men|children|adults|individuals|people|persons|"
    r"infants|cases)\b|(?<![A-Za-z])[nN]\s*=\s*(?P<n2>\d[\d,]*)")

STUDY_LABEL = re.compile(
    r"\(\s*(?:19|20)\d\d[a-z]?\s*\)|\bet al\b|^\s*[A-Z][\w'-]+\s+(?:19|20)\d\d")
"""A forest-plot or table row that names one study (``Hernigou (2021)``, ``Smith et al.``)."""
POOLED_LABEL = re.compile(
    r"(?<![A-Za-z])(?=[OoSsTtPpRrFfCc])(?P<label>(?i:overall|subtotal|sub-total|subgroup|total|pooled|"
    r"random[- ]effects?\s+model|fixed[- ]effects?\s+model|common[- ]effect\s+model))(?![A-Za-z])")
"""The label of a pooled row in a forest plot printed as text."""
FOREST_HETEROGENEITY = re.compile(
    rf"\(\s*[^()=]{{0,14}}=\s*(?P<i2>{NUMBER})\s*%\s*,\s*[Pp]\s*=\s*(?P<p>{NUMBER}|\.(?!\d))"
    r"\s*\)?")
"""``(I² = 46.7%, p = 0.153)`` after a pooled row's label, whatever OCR made of the ``I²``."""

NUMBER_WORD = re.compile(r"\b(?i:" + "|".join(WORDS) + r")\b")
