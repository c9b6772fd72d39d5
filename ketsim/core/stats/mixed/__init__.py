"""REML linear mixed models fitted to many replicate trials at once: MMRM and crossover.

The Monte Carlo engine analyses hundreds or thousands of simulated trials, so nothing here loops
over replicates in Python. Each model is reduced to small per-replicate sufficient statistics
(cross-products per missing-data pattern for the MMRM, per-patient means and within-patient
cross-products for the crossover model) and the REML iterations run on stacked arrays with one
leading axis per replicate.

* :func:`mmrm` -- mixed model for repeated measures: visit-specific intercepts and treatment
  effects (+ covariates), unstructured / AR(1) / compound-symmetry covariance across visits,
  REML by Newton steps on an approximate observed information (average-information fallback,
  Gilmour et al. 1995) with step halving.
* :func:`crossover` -- Jones & Kenward crossover model: period, treatment, sequence (and
  optionally first-order carry-over) fixed effects, random patient intercept, REML with the
  variance ratio profiled out, a vectorised golden-section search polished by a regula-falsi
  root of the analytic derivative.

Modules: :mod:`~ketsim.core.stats.mixed.mmrm_model` (the public :func:`mmrm`),
:mod:`~ketsim.core.stats.mixed.mmrm_reml` (its REML iterations),
:mod:`~ketsim.core.stats.mixed.crossover_model` (:func:`crossover`), and the private batched
linear algebra (``_linalg``) and replicate grouping / input checks (``_replicates``).

Both return a :class:`ketsim.core.stats.estimates.Estimate` (treatment minus control). A replicate
whose fit is undefined (too few patients, an arm with no data, a singular design, no convergence)
gets NaN results and ``converged=False``; it never raises and never emits numpy warnings.

References
----------
.. [Mallinckrodt2008] Mallinckrodt CH, Lane PW, Schnell D, Peng Y, Mancuso JP. Recommendations
   for the primary analysis of continuous endpoints in longitudinal clinical trials. Drug Inf J
   2008;42:303-19.
.. [JonesKenward2014] Jones B, Kenward MG. Design and Analysis of Cross-Over Trials, 3rd ed.
   Boca Raton: CRC Press; 2014 (chapters 2-5: the model with period, treatment, carry-over and
   random subject effects; recovery of between-subject information).
.. [Gilmour1995] Gilmour AR, Thompson R, Cullis BR. Average information REML: an efficient
   algorithm for variance parameter estimation in linear mixed models. Biometrics
   1995;51:1440-50.
.. [Jennrich1986] Jennrich RI, Schluchter MD. Unbalanced repeated-measures models with
   structured covariance matrices. Biometrics 1986;42:805-20.
.. [Pinheiro1996] Pinheiro JC, Bates DM. Unconstrained parametrizations for variance-covariance
   matrices. Stat Comput 1996;6:289-96.
.. [Murray2016] Murray I. Differentiation of the Cholesky decomposition. arXiv:1602.07527
   (2016) (tangent map dL = L Phi(L^-1 dSigma L^-T)).
.. [SAS] SAS/STAT User's Guide, PROC MIXED: DDFM=BETWITHIN and TYPE=UN/AR(1)/CS.
"""

from ketsim.core.stats.mixed.crossover_model import crossover
from ketsim.core.stats.mixed.mmrm_model import COVARIANCES, mmrm

__all__ = ["COVARIANCES", "crossover", "mmrm"]
