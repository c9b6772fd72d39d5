"""Vectorised statistics over many replicate trials: tests, regressions, survival, mixed models.

Every analysis here analyses *all* replicate trials of a Monte Carlo run in one vectorised call:
the data are flat per-patient arrays (``y``, ``group``, ...) plus an integer ``rep`` array in
``[0, n_rep)`` saying which replicate each patient belongs to. Patients need not be sorted by
replicate; per-replicate sums use :func:`numpy.bincount` and per-replicate orderings a stable
:func:`numpy.lexsort`, so there is no Python loop over replicates in the hot paths (the only
loops are over small fixed things: coefficient pairs, Newton iterations, chunks of replicates
that bound memory, distinct df values and missing-value patterns in :func:`dunnett`).

Modules, one family of analyses each:

* :mod:`~ketsim.core.stats.estimates` -- the :class:`Estimate` result and t/z p-values;
* :mod:`~ketsim.core.stats.two_sample` -- Student/Welch t, Wilcoxon-Mann-Whitney with
  Hodges-Lehmann shift;
* :mod:`~ketsim.core.stats.linear_models` -- OLS and ANCOVA;
* :mod:`~ketsim.core.stats.binary` -- event counts, two proportions (Fisher, chi-square);
* :mod:`~ketsim.core.stats.logistic` -- logistic regression, maximum likelihood or Firth;
* :mod:`~ketsim.core.stats.survival` -- log-rank test;
* :mod:`~ketsim.core.stats.multiplicity` -- Bonferroni, Holm, Hochberg, Dunnett;
* :mod:`~ketsim.core.stats.mixed` -- REML mixed models (MMRM, crossover);
* ``_batched`` (private) -- input checks and grouped per-replicate arithmetic of the tests.

Conventions (see :mod:`ketsim.core.stats.estimates`):

* every test returns an :class:`~ketsim.core.stats.estimates.Estimate` with one entry per replicate
  (``(R,)``), or per replicate and comparison (``(R, K)``);
* the estimate is *treatment minus control* (group code 1, or ``g >= 1``, minus code 0), and
  ``alternative`` refers to it (``"less"``: H1 estimate < 0); intervals are two-sided at
  ``conf_level``;
* NaN in an outcome (or covariate) means missing: that patient is dropped from that analysis
  (complete-case);
* a replicate where a test is undefined (empty group, n too small, zero variance, singular
  design, separation, ...) gets NaN and ``converged=False``; it never raises and never emits
  numpy warnings. :meth:`Estimate.reject` counts such replicates as "not rejected".

Invalid *inputs* (wrong shapes, group codes out of range, ``rep`` outside ``[0, n_rep)``, an
unknown ``alternative``) do raise ``ValueError``.
"""

from ketsim.core.stats.binary import count_by_group, proportions
from ketsim.core.stats.estimates import ALTERNATIVES, Estimate, ci_from_t, p_from_t, wald_estimate
from ketsim.core.stats.linear_models import ancova, ols
from ketsim.core.stats.logistic import logistic
from ketsim.core.stats.mixed import COVARIANCES, crossover, mmrm
from ketsim.core.stats.multiplicity import adjust, bonferroni, cov_to_corr, dunnett, hochberg, holm
from ketsim.core.stats.survival import logrank
from ketsim.core.stats.two_sample import mann_whitney, two_sample_t

__all__ = [
    "ALTERNATIVES",
    "COVARIANCES",
    "Estimate",
    "adjust",
    "ancova",
    "bonferroni",
    "ci_from_t",
    "count_by_group",
    "cov_to_corr",
    "crossover",
    "dunnett",
    "hochberg",
    "holm",
    "logistic",
    "logrank",
    "mann_whitney",
    "mmrm",
    "ols",
    "p_from_t",
    "proportions",
    "two_sample_t",
    "wald_estimate",
]
