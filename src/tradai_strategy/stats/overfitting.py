"""Overfitting checks and the validation verdict a promotion gate consumes.

* Probabilistic Sharpe Ratio (Bailey & López de Prado, "The Sharpe Ratio Efficient
  Frontier", Journal of Risk 15(2), 2012) and Deflated Sharpe Ratio (Bailey & López de
  Prado, "The Deflated Sharpe Ratio", Journal of Portfolio Management 40(5), 2014). Sharpe
  ratios are *per period* (not annualised) and kurtosis is the raw one (3 for a normal).
* Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV;
  Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting", Journal
  of Computational Finance 20(4), 2017) over a matrix of trial returns.
* :func:`assess` turns the evidence of one validation run into a :class:`Verdict`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

#: Euler-Mascheroni constant (expected maximum of Gaussian draws).
EULER_GAMMA = 0.5772156649015329


def sharpe_moments(returns: npt.ArrayLike) -> tuple[float, float, float, int]:
    """Per-period Sharpe ratio, skewness, raw kurtosis and number of finite returns.

    Examples
    --------
    >>> sr, skew, kurt, n = sharpe_moments([0.01, -0.02, 0.03, 0.0, 0.01])
    >>> round(sr, 3), n
    (0.33, 5)
    """
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    n = len(r)
    if n < 3 or float(r.std()) == 0:
        return float("nan"), float("nan"), float("nan"), n
    sr = float(r.mean() / r.std(ddof=1))
    return sr, float(stats.skew(r)), float(stats.kurtosis(r, fisher=False)), n


def probabilistic_sharpe_ratio(
    sr: float, n_obs: int, sr_benchmark: float = 0.0, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """PSR: probability that the true Sharpe ratio exceeds ``sr_benchmark``.

    ``Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - skew SR + (kurtosis - 1) / 4 SR^2))``.

    Examples
    --------
    >>> round(probabilistic_sharpe_ratio(0.1, 400), 3)
    0.977
    """
    if n_obs < 2:
        raise ValueError(f"n_obs must be >= 2 returns, got {n_obs}")
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not math.isfinite(sr) or var <= 0:
        return float("nan")
    z = (sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var)
    return float(stats.norm.cdf(z))


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe estimates whose true value is 0 (DSR's ``SR0``).

    ``sqrt(V) ((1 - gamma) Z^-1(1 - 1/N) + gamma Z^-1(1 - 1/(N e)))``; 0 for a single trial.

    Examples
    --------
    >>> round(expected_max_sharpe(100, 1.0), 4)
    2.5306
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if sr_variance < 0:
        raise ValueError(f"sr_variance must be >= 0, got {sr_variance}")
    if n_trials == 1:
        return 0.0
    z1 = stats.norm.ppf(1.0 - 1.0 / n_trials)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sr_variance) * ((1 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def deflated_sharpe_ratio(
    sr: float,
    n_obs: int,
    n_trials: int,
    sr_variance: float,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """DSR: the PSR against the Sharpe ratio the best of ``n_trials`` null trials would reach.

    Examples
    --------
    >>> round(deflated_sharpe_ratio(0.1, 400, 1, 0.0025), 3)  # one trial: PSR(0)
    0.977
    """
    sr0 = expected_max_sharpe(n_trials, sr_variance)
    return probabilistic_sharpe_ratio(sr, n_obs, sr0, skew, kurtosis)


@dataclass(frozen=True)
class PBOResult:
    """Probability of backtest overfitting and the logits it is computed from."""

    pbo: float
    logits: npt.NDArray[np.float64]
    n_combinations: int

    def to_dict(self) -> dict[str, float]:
        return {
            "pbo": self.pbo,
            "n_combinations": float(self.n_combinations),
            "median_logit": float(np.median(self.logits)),
        }


def pbo_cscv(trial_returns: npt.ArrayLike, n_slices: int = 16) -> PBOResult:
    """PBO by CSCV over a ``(T periods, N trials)`` matrix of per-period returns.

    The rows are cut into ``n_slices`` contiguous slices; every half of them is once the
    in-sample set (its complement out-of-sample). For each of the ``C(S, S/2)``
    combinations the in-sample best trial (by Sharpe ratio) gets its out-of-sample relative
    rank ``w = rank / (N + 1)`` and logit ``log(w / (1 - w))``. PBO is the share of logits
    ``<= 0``: how often the in-sample winner is at or below the out-of-sample median.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(0, 1, (800, 20))
    >>> 0.3 < pbo_cscv(noise, n_slices=8).pbo < 0.7
    True
    >>> noise[:, 3] += 0.5  # one trial truly better
    >>> pbo_cscv(noise, n_slices=8).pbo
    0.0
    """
    m = np.asarray(trial_returns, dtype=float)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError(
            f"trial_returns must be a (periods, trials) matrix with >= 2 trials, got {m.shape}"
        )
    if not np.isfinite(m).all():
        raise ValueError("trial_returns has NaN/inf: align the trials on common periods first")
    if n_slices < 2 or n_slices % 2:
        raise ValueError(f"n_slices must be an even number >= 2, got {n_slices}")
    t, n = m.shape
    if t < 2 * n_slices:
        raise ValueError(
            f"too few rows: {t} periods for {n_slices} slices; use fewer slices or more periods"
        )
    bounds = np.linspace(0, t, n_slices + 1).astype(int)
    sums = np.add.reduceat(m, bounds[:-1], axis=0)
    squares = np.add.reduceat(m * m, bounds[:-1], axis=0)
    counts = np.diff(bounds).astype(float)
    combos = np.array(list(itertools.combinations(range(n_slices), n_slices // 2)))
    member = np.zeros((len(combos), n_slices))
    np.put_along_axis(member, combos, 1.0, axis=1)

    def sharpe(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        cnt = (weights @ counts)[:, None]
        mean = (weights @ sums) / cnt
        var = ((weights @ squares) - cnt * mean**2) / (cnt - 1)
        return np.asarray(mean / np.sqrt(np.maximum(var, 1e-300)))

    is_sr, oos_sr = sharpe(member), sharpe(1.0 - member)
    best = np.argmax(is_sr, axis=1)
    ranks = stats.rankdata(oos_sr, axis=1)[np.arange(len(combos)), best]
    w = ranks / (n + 1)
    logits = np.log(w / (1 - w))
    return PBOResult(pbo=float(np.mean(logits <= 0)), logits=logits, n_combinations=len(combos))


@dataclass(frozen=True)
class Thresholds:
    """Where the verdict draws its lines (see :func:`assess`)."""

    min_ic: float = 0.03
    min_ic_tstat: float = 2.0
    max_sharpe_gap: float = 0.5
    max_seed_ic_std: float = 0.02
    min_dsr: float = 0.95
    max_pbo: float = 0.5


@dataclass
class Evidence:
    """What one validation run measured. Sharpe ratios are per label period, net of costs.

    ``train_sharpe``/``val_sharpe`` are comparable per-pair figures (in-sample fit vs
    out-of-sample); ``val_sharpe_portfolio`` with ``n_periods``, ``skew`` and ``kurtosis``
    describe the strategy's return series the PSR/DSR judge (``val_sharpe`` when unset).
    """

    ic: float
    ic_se: float
    train_sharpe: float
    val_sharpe: float
    n_periods: int
    skew: float = 0.0
    kurtosis: float = 3.0
    val_sharpe_portfolio: float | None = None
    seed_ics: list[float] = field(default_factory=list)
    n_trials: int = 1
    trial_sharpes: list[float] = field(default_factory=list)
    config_trial_returns: npt.NDArray[np.float64] | None = None

    @classmethod
    def from_returns(
        cls, ic: float, ic_se: float, train_sharpe: float, val_returns: npt.ArrayLike, **kw: Any
    ) -> Evidence:
        """Evidence whose validation Sharpe and moments come from one return series."""
        sr, skew, kurt, n = sharpe_moments(val_returns)
        return cls(ic, ic_se, train_sharpe, sr, n, skew, kurt, **kw)


@dataclass
class Verdict:
    """Pass/fail with the reasons; ``metrics`` holds every number the reasons refer to."""

    passed: bool
    reasons: list[str]
    metrics: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        clean = {k: (v if math.isfinite(v) else None) for k, v in self.metrics.items()}
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "metrics": clean,
        }


def _sr_variance(ev: Evidence, n_obs: int, sr: float) -> float:
    """Variance of the trials' Sharpe ratios: measured when there are several, else the
    sampling variance of one Sharpe estimate (what trials with no skill would show)."""
    trials = np.asarray(ev.trial_sharpes, dtype=float)
    trials = trials[np.isfinite(trials)]
    if len(trials) >= 2 and float(trials.var(ddof=1)) > 0:
        return float(trials.var(ddof=1))
    return (1.0 + 0.5 * sr * sr) / max(n_obs - 1, 1)


def assess(ev: Evidence, th: Thresholds | None = None) -> Verdict:
    """The verdict of one validation run.

    Fails when the validation IC is below ``min_ic`` or not distinguishable from zero
    (t < ``min_ic_tstat``), when train minus validation Sharpe exceeds ``max_sharpe_gap``,
    when the IC over seeds spreads more than ``max_seed_ic_std``, when the deflated Sharpe
    ratio is below ``min_dsr``, and (given configuration trials) when PBO > ``max_pbo``.

    Examples
    --------
    >>> returns = np.random.default_rng(1).normal(0, 1, 400)
    >>> ev = Evidence.from_returns(ic=0.01, ic_se=0.05, train_sharpe=0.9, val_returns=returns)
    >>> v = assess(ev)
    >>> v.passed, [r.split(":")[0] for r in v.reasons][:2]
    (False, ['IC too weak', 'IC not significant'])
    """
    th = th or Thresholds()
    reasons: list[str] = []
    warnings: list[str] = []
    tstat = ev.ic / ev.ic_se if ev.ic_se > 0 else float("nan")
    sr = ev.val_sharpe if ev.val_sharpe_portfolio is None else ev.val_sharpe_portfolio
    n_obs = ev.n_periods
    metrics: dict[str, float] = {
        "ic": ev.ic,
        "ic_tstat": tstat,
        "train_sharpe": ev.train_sharpe,
        "val_sharpe": ev.val_sharpe,
        "sharpe_gap": ev.train_sharpe - ev.val_sharpe,
        "n_trials": float(ev.n_trials),
    }
    if not (ev.ic >= th.min_ic):
        reasons.append(f"IC too weak: validation IC {ev.ic:+.4f} < {th.min_ic}")
    if not (tstat >= th.min_ic_tstat):
        reasons.append(
            f"IC not significant: t = {tstat:+.2f} < {th.min_ic_tstat} (IC {ev.ic:+.4f} "
            f"+/- {ev.ic_se:.4f})"
        )
    if metrics["sharpe_gap"] > th.max_sharpe_gap:
        reasons.append(
            f"overfit: train Sharpe {ev.train_sharpe:.3f} - validation Sharpe "
            f"{ev.val_sharpe:.3f} = {metrics['sharpe_gap']:.3f} > {th.max_sharpe_gap} per period"
        )
    if len(ev.seed_ics) >= 2:
        spread = float(np.std(ev.seed_ics, ddof=1))
        metrics["seed_ic_std"] = spread
        metrics["seed_ic_range"] = float(np.ptp(ev.seed_ics))
        if spread > th.max_seed_ic_std:
            reasons.append(
                f"unstable: IC over {len(ev.seed_ics)} seeds has std {spread:.4f} > "
                f"{th.max_seed_ic_std}"
            )
    if n_obs >= 3 and math.isfinite(sr):
        var = _sr_variance(ev, n_obs, sr)
        skew = ev.skew if math.isfinite(ev.skew) else 0.0
        kurt = ev.kurtosis if math.isfinite(ev.kurtosis) else 3.0
        psr = probabilistic_sharpe_ratio(sr, n_obs, 0.0, skew, kurt)
        dsr = deflated_sharpe_ratio(sr, n_obs, ev.n_trials, var, skew, kurt)
        metrics.update(psr=psr, dsr=dsr, sr_benchmark=expected_max_sharpe(ev.n_trials, var))
        if not (dsr >= th.min_dsr):
            reasons.append(
                f"Sharpe not significant: deflated Sharpe ratio {dsr:.3f} < {th.min_dsr} "
                f"(SR {sr:+.3f} per period over {n_obs} periods, {ev.n_trials} trial(s))"
            )
    else:
        warnings.append("too few validation returns for PSR/DSR")
    if ev.config_trial_returns is not None:
        pbo = pbo_cscv(ev.config_trial_returns).pbo
        metrics["pbo"] = pbo
        if pbo > th.max_pbo:
            reasons.append(f"overfit selection: PBO {pbo:.2f} > {th.max_pbo}")
    return Verdict(passed=not reasons, reasons=reasons, metrics=metrics, warnings=warnings)
