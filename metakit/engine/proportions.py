"""Pooled proportions (R's ``meta::metaprop`` and Stata's ``metaprop``), built on :func:`rma`.

References
----------
Nyaga, V. N., Arbyn, M., & Aerts, M. (2014). Metaprop: a Stata command to perform meta-analysis
of binomial data. Archives of Public Health, 72, 39. doi:10.1186/2049-3258-72-39
Barendregt, J. J., Doi, S. A., Lee, Y. Y., Norman, R. E., & Vos, T. (2013). Meta-analysis of
prevalence. J Epidemiol Community Health, 67(11), 974-978.
Miller, J. J. (1978). The inverse of the Freeman-Tukey double arcsine transformation. The
American Statistician, 32(4), 138.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
JASA, 22(158), 209-212.
Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial limits illustrated in
the case of the binomial. Biometrika, 26(4), 404-413.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from statsmodels.stats.proportion import proportion_confint

from metakit.engine import _validation as v
from metakit.engine.effect_sizes import escalc
from metakit.engine.glmm import GLMMResult, rma_glmm
from metakit.engine.heterogeneity import METHODS
from metakit.engine.models import RMAResult, rma
from metakit.engine.transforms import back_transform

STUDY_INTERVALS = {"wilson": "wilson", "exact": "beta"}


@dataclass(frozen=True)
class MetapropResult:
    """Pooled proportion: ``prop, prop_low, prop_high`` (and ``pi_*_prop``) back-transformed.

    Every attribute of the underlying :class:`RMAResult` (or, for ``method="GLMM"``,
    :class:`~metakit.engine.glmm.GLMMResult`) on the transformed scale is available too:
    ``res.tau2``, ``res.i2``, ``res.q_pval``, ``res.fit`` ...
    """

    fit: RMAResult | GLMMResult
    xi: np.ndarray
    ni: np.ndarray
    study_interval: str

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.fit, name)

    def _bt(self, value: float) -> float:
        return back_transform(self.fit.measure, value, self.ni) if np.isfinite(value) else np.nan

    @property
    def prop(self) -> float:
        return self._bt(self.fit.estimate)

    @property
    def prop_low(self) -> float:
        return self._bt(self.fit.ci_low)

    @property
    def prop_high(self) -> float:
        return self._bt(self.fit.ci_high)

    @property
    def pi_low_prop(self) -> float:
        return self._bt(self.fit.pi_low)

    @property
    def pi_high_prop(self) -> float:
        return self._bt(self.fit.pi_high)

    def studies(self) -> pd.DataFrame:
        """Per-study proportion with its Wilson or exact (Clopper-Pearson) interval and weight."""
        method = STUDY_INTERVALS[self.study_interval]
        low, high = proportion_confint(self.xi, self.ni, alpha=1 - self.fit.level / 100,
                                       method=method)
        return pd.DataFrame({"events": self.xi.astype(int), "n": self.ni.astype(int),
                             "prop": self.xi / self.ni, "ci_low": low, "ci_high": high,
                             "weight": self.fit.weights}, index=pd.Index(self.fit.slab,
                                                                          name="study"))

    def to_record(self) -> dict[str, Any]:
        record = self.fit.to_record()
        record.update({"prop": self.prop, "prop_low": self.prop_low,
                       "prop_high": self.prop_high})
        return record

    def __str__(self) -> str:
        return (f"{self.fit}\n\nPooled proportion: {self.prop:.4f} "
                f"[{self.prop_low:.4f}, {self.prop_high:.4f}]")


def metaprop(xi: ArrayLike, ni: ArrayLike, measure: str | None = None, method: str = "REML",
             test: str = "z", level: float = 95, *, slab: Sequence[Any] | None = None,
             study_interval: str = "wilson") -> MetapropResult:
    """Pool single proportions on the ``PFT``, ``PLO`` or ``PR`` scale and back-transform.

    Parameters
    ----------
    xi, ni : array_like
        Events and sizes per study.
    measure : {"PFT", "PLO", "PR"}, optional
        Freeman-Tukey double arcsine (back-transformed with the harmonic mean of ``ni``, Miller
        1978, as metafor's ``transf.ipft.hm`` and Stata's ``metaprop``), logit, or raw. Default
        ``"PFT"``, and ``"PLO"`` (the only one it allows) for ``method="GLMM"``.
    method : str
        A τ² estimator of :func:`metakit.rma`, or ``"GLMM"``: the random-intercept logistic
        model fitted by ML with 7-point adaptive Gauss-Hermite quadrature
        (:func:`~metakit.engine.glmm.rma_glmm`, as R meta's ``metaprop(method = "GLMM")``),
        which uses the exact binomial likelihood of 0/n and n/n studies.
    test, level
        As in :func:`metakit.rma`; for ``"GLMM"`` ``test`` is ``"z"`` or ``"t"``.
    study_interval : {"wilson", "exact"}
        Per-study display interval (Stata's metaprop shows Wilson; exact is Clopper-Pearson).

    References
    ----------
    Nyaga et al. (2014); Barendregt et al. (2013); Miller (1978); Wilson (1927);
    Clopper & Pearson (1934); Stijnen, Hamza & Özdemir (2010) for the GLMM.
    """
    v.check_choice("study_interval", study_interval, tuple(STUDY_INTERVALS))
    v.check_choice("method", method, METHODS + ("GLMM",))
    if method == "GLMM":
        if measure not in (None, "PLO"):
            raise ValueError(f"measure: the GLMM is a logistic model, so measure must be 'PLO' "
                             f"(or omitted), got {measure!r}")
        glmm = rma_glmm(xi, ni, level=level, test=test, slab=slab)
        return MetapropResult(glmm, glmm.xi, glmm.ni, study_interval)
    measure = v.check_choice("measure", measure or "PFT", ("PFT", "PLO", "PR"))
    es = escalc(measure, xi=xi, ni=ni, slab=slab)
    x = np.asarray(xi, dtype=float)
    n = np.asarray(ni, dtype=float)
    fit = rma(es["yi"], es["vi"], method=method, test=test, level=level, measure=measure,
              slab=slab, ni=n)
    return MetapropResult(fit, x, n, study_interval)
