"""How well a trial's result tells competing model hypotheses apart (Gaussian discriminant).

A design is run under each hypothesis ``h`` (e.g. each lasting-effect mechanism); every simulated
trial gives a vector ``x`` of summary statistics (the estimates of its declared analyses). The
hypotheses' predictive distributions of ``x`` are approximated by multivariate normals fitted to
the simulated vectors (quadratic discriminant analysis). For a trial simulated under ``h`` the
posterior probability of each hypothesis, with prior weights ``w``, is

    P(g | x) = w_g N(x; mu_g, S_g) / sum_j w_j N(x; mu_j, S_j)

A design *discriminates* when, whatever hypothesis is true, its result puts most posterior mass
on the truth. Reported per design: the probability that the maximum-a-posteriori hypothesis is
the true one (``accuracy``), the probability that the truth's posterior reaches ``decisive``
(default 0.9), and the confusion matrix. Densities are fitted on one half of the replicates and
evaluated on the other (two-fold cross-fitting, both ways), so the figures are not flattered by
scoring the trials the densities were fitted to.

The normal approximation is an assumption: the estimates of the usual analyses (mean
differences, ANCOVA/MMRM contrasts, log odds ratios) are close to normal at trial sizes of a few
dozen patients; a multimodal statistic would be scored too harshly or too kindly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Discrimination", "discriminate", "gaussian_log_density"]

#: ridge added to each covariance, relative to its mean variance (keeps S_g invertible when a
#: statistic is nearly constant or two statistics are collinear)
RIDGE = 1e-6


def gaussian_log_density(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Log density of rows of ``x`` (n, k) under N(mean, cov), via a Cholesky factor."""
    k = mean.size
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, (x - mean).T)  # (k, n)
    logdet = 2.0 * np.sum(np.log(np.diag(chol)))
    return -0.5 * (np.sum(z * z, axis=0) + logdet + k * np.log(2.0 * np.pi))


def _fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    scale = float(np.mean(np.diag(cov))) or 1.0
    return mean, cov + RIDGE * scale * np.eye(mean.size)


@dataclass(frozen=True)
class Discrimination:
    """Result of :func:`discriminate`.

    Attributes
    ----------
    hypotheses : names, in the order of the matrices.
    confusion : (H, H) fraction of trials simulated under row ``h`` whose MAP hypothesis is ``g``.
    accuracy : P(MAP = truth), averaged over the true hypotheses with the prior weights.
    accuracy_se : its Monte Carlo SE.
    decisive : P(posterior of the truth ≥ threshold), averaged likewise.
    decisive_se : its Monte Carlo SE.
    mean_posterior : (H,) mean posterior probability of the truth under each true hypothesis.
    n : trials scored per hypothesis.
    threshold : the posterior probability counted as decisive.
    """

    hypotheses: tuple[str, ...]
    confusion: np.ndarray
    accuracy: float
    accuracy_se: float
    decisive: float
    decisive_se: float
    mean_posterior: np.ndarray
    n: np.ndarray
    threshold: float


def discriminate(
    samples: dict[str, np.ndarray],
    weights: dict[str, float] | None = None,
    threshold: float = 0.9,
) -> Discrimination:
    """Cross-fitted Gaussian discrimination between hypotheses from simulated statistics.

    Parameters
    ----------
    samples : hypothesis -> (R_h, k) statistics of R_h simulated trials (rows with a NaN are
        dropped: failed fits; each hypothesis needs at least 2·(k + 1) complete rows).
    weights : prior weight of each hypothesis (default equal); normalised to sum 1.
    threshold : posterior probability of the truth counted as a decisive result.

    Returns
    -------
    Discrimination
    """
    names = tuple(samples)
    if len(names) < 2:
        raise ValueError("discrimination needs at least two hypotheses")
    w = np.array([1.0 if weights is None else float(weights[h]) for h in names])
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError("prior weights must be >= 0 and not all 0")
    w = w / w.sum()
    data = {}
    for h in names:
        x = np.asarray(samples[h], dtype=float)
        x = x.reshape(len(x), -1)
        x = x[np.all(np.isfinite(x), axis=1)]
        if len(x) < 2 * (x.shape[1] + 1):
            raise ValueError(
                f"hypothesis {h!r}: {len(x)} complete trials; at least {2 * (x.shape[1] + 1)} "
                f"are needed for {x.shape[1]} statistic(s)"
            )
        data[h] = x
    H = len(names)
    confusion = np.zeros((H, H))
    decisive = np.zeros(H)
    post_truth = np.zeros(H)
    n = np.array([len(data[h]) for h in names])
    for fold in (0, 1):
        # fit on the rows of the other parity, score these
        fits = [_fit(data[h][(np.arange(len(data[h])) % 2) != fold]) for h in names]
        for i, h in enumerate(names):
            x = data[h][(np.arange(len(data[h])) % 2) == fold]
            logp = np.stack(
                [np.log(w[g]) + gaussian_log_density(x, *fits[g]) for g in range(H)], axis=1
            )
            logp -= logp.max(axis=1, keepdims=True)
            post = np.exp(logp)
            post /= post.sum(axis=1, keepdims=True)
            confusion[i] += np.bincount(post.argmax(axis=1), minlength=H)
            decisive[i] += np.sum(post[:, i] >= threshold)
            post_truth[i] += post[:, i].sum()
    confusion /= n[:, None]
    acc_h = np.diag(confusion).copy()
    dec_h = decisive / n
    # a weighted mean of independent binomial proportions: its variance is sum w² p(1-p)/n
    acc = float(w @ acc_h)
    dec = float(w @ dec_h)
    return Discrimination(
        hypotheses=names,
        confusion=confusion,
        accuracy=acc,
        accuracy_se=float(np.sqrt(np.sum(w**2 * acc_h * (1 - acc_h) / n))),
        decisive=dec,
        decisive_se=float(np.sqrt(np.sum(w**2 * dec_h * (1 - dec_h) / n))),
        mean_posterior=post_truth / n,
        n=n,
        threshold=threshold,
    )
