"""Classification statistics against hand-computed oracles, McNemar's exact test and
planted truths: the persistence baseline reads t-h, the paired test is calibrated under
overlapping errors, a no-skill model on a random walk is refused, a skilled one passes."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradai_strategy.core.regimes import REGIMES, regime_labels
from tradai_strategy.data.synthetic import generate_ohlcv
from tradai_strategy.data.synthetic_regimes import generate_regime_market
from tradai_strategy.stats.classification import (
    ClassificationError,
    accuracy_gate,
    beats_baseline,
    classification_report,
    majority_baseline,
    persistence_baseline,
)

H = 24


def hourly(values: object, start: str = "2024-01-01") -> pd.Series:
    arr = np.asarray(values, dtype=object)
    return pd.Series(arr, index=pd.date_range(start, periods=len(arr), freq="h", tz="UTC"))


def noisy_copy(truth: pd.Series, skill: float, seed: int, block: int = 1) -> pd.Series:
    """``truth`` on blocks of ``block`` rows kept with probability ``skill``, a uniform
    random class elsewhere (errors correlated within a block, like overlapping labels)."""
    rng = np.random.default_rng(seed)
    keep = np.repeat(rng.random(len(truth) // block + 1) < skill, block)[: len(truth)]
    guess = rng.choice(REGIMES, size=len(truth))
    return pd.Series(np.where(keep, truth.to_numpy(), guess), index=truth.index, dtype=object)


def test_metrics_equal_hand_computations_from_the_confusion_matrix() -> None:
    rng = np.random.default_rng(1)
    classes = list(REGIMES)
    truth = hourly(rng.choice(classes, size=500, p=[0.4, 0.3, 0.15, 0.1, 0.05]))
    pred = noisy_copy(truth, 0.6, seed=2)
    raw = rng.dirichlet(np.ones(5), size=500)
    proba = pd.DataFrame(raw, index=truth.index, columns=classes)
    truth.iloc[:7] = None  # unknown labels are left out
    rep = classification_report(truth, pred, proba, classes=classes)

    rows = [(t, p) for t, p in zip(truth, pred, strict=True) if pd.notna(t)]
    n = len(rows)
    counts = Counter(rows)
    cm = np.array([[counts[(t, p)] for p in classes] for t in classes])
    np.testing.assert_array_equal(rep.confusion.to_numpy(), cm)
    assert rep.n == n == cm.sum()
    po = np.trace(cm) / n
    pe = float((cm.sum(axis=1) * cm.sum(axis=0)).sum()) / n**2
    assert rep.accuracy == pytest.approx(po)
    assert rep.kappa == pytest.approx((po - pe) / (1 - pe))
    recalls = [cm[i, i] / cm[i].sum() for i in range(5) if cm[i].sum()]
    assert rep.balanced_accuracy == pytest.approx(np.mean(recalls))
    picked = [raw[i, classes.index(t)] for i, t in enumerate(truth) if pd.notna(t)]
    assert rep.log_loss == pytest.approx(-np.mean(np.log(picked)))
    assert math.isnan(classification_report(truth, pred).log_loss)


def test_majority_is_the_training_majority_and_persistence_reads_t_minus_h() -> None:
    train = hourly(["bull"] * 5 + ["bear"] * 3)
    test_index = pd.date_range("2024-02-01", periods=4, freq="h", tz="UTC")
    assert majority_baseline(train, test_index).tolist() == ["bull"] * 4
    labels = hourly([f"c{i}" for i in range(40)])
    labels.iloc[10] = None
    got = persistence_baseline(labels, 6)
    assert got.iloc[:6].isna().all() and got.iloc[16] is None
    for t in range(6, 40):
        if t != 16:
            assert got.iloc[t] == f"c{t - 6}"
    # candles 20-22 missing: 6 candles before 26 is 20 (missing), not the row 6 positions up
    gappy = labels.drop(labels.index[20:23])
    shifted = persistence_baseline(gappy, 6)
    assert shifted.loc[labels.index[25]] == "c19"
    assert shifted.loc[labels.index[26]] is None and shifted.loc[labels.index[28]] is None
    assert shifted.loc[labels.index[29]] == "c23"


def test_the_paired_test_agrees_with_mcnemar_on_non_overlapping_rows() -> None:
    market = generate_regime_market(["BTC/USDT"], "1h", 365, seed=4)
    labels = regime_labels(market.candles["BTC/USDT"].set_index("date")["close"], H)
    oos = labels.iloc[len(labels) // 2 :].dropna()
    persistence = persistence_baseline(labels, H).reindex(oos.index)
    for skill, seed in ((0.45, 5), (0.38, 6), (0.3, 7), (0.9, 8)):
        model = noisy_copy(oos, skill, seed, block=H)
        test = beats_baseline(oos, model, persistence, H)
        every_h = oos.index[::H]
        m = (model[every_h] == oos[every_h]).to_numpy()
        b = (persistence[every_h] == oos[every_h]).to_numpy()
        wins, losses = int((m & ~b).sum()), int((~m & b).sum())
        mcnemar = stats.binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue
        # the same paired test on the non-overlapping rows only (horizon 1 on that grid)
        thin = beats_baseline(oos[every_h], model[every_h], persistence[every_h], 1)
        print(
            f"skill {skill}: all rows {test.text()}; every {H}th row p = {thin.p_value:.3g}, "
            f"McNemar {wins}:{losses} p = {mcnemar:.3g}"
        )
        assert np.sign(test.delta) == np.sign(thin.delta) == np.sign(wins - losses)
        # on the same rows: p-values within a factor of 3 unless both are tiny
        if max(thin.p_value, mcnemar) > 1e-6:
            assert abs(math.log10(thin.p_value) - math.log10(mcnemar)) < 0.5
        # all rows carry more information than every h-th row: never a much weaker verdict
        assert test.p_value < 10 * mcnemar


def test_the_gate_is_calibrated_when_errors_overlap() -> None:
    """Two models of equal skill whose errors come in H-row blocks: the persistence
    condition (here: one equal-skill model against the other) rejects ~5 % of the time;
    an i.i.d. binomial test on all rows would reject far more often."""
    truth = hourly(np.random.default_rng(0).choice(REGIMES, size=2400))
    rejected, naive = 0, 0
    reps = 200
    for rep in range(reps):
        a = noisy_copy(truth, 0.5, seed=2 * rep + 1, block=H)
        b = noisy_copy(truth, 0.5, seed=2 * rep + 2, block=H)
        test = beats_baseline(truth, a, b, H)
        rejected += test.p_value < 0.05
        iid_se = math.sqrt(
            (
                (a == truth).astype(float).var()
                + (b == truth).astype(float).var()
                - 2 * np.cov((a == truth).astype(float), (b == truth).astype(float))[0, 1]
            )
            / len(truth)
        )
        naive += stats.norm.sf(test.delta / iid_se) < 0.05
    print(f"rejections at 5 %: overlap-aware {rejected / reps:.1%}, i.i.d. {naive / reps:.1%}")
    assert 0.01 <= rejected / reps <= 0.10
    assert naive / reps > 0.25


def test_on_a_random_walk_a_no_skill_model_is_refused_and_persistence_is_strong() -> None:
    close = generate_ohlcv("BTC/USDT", "1h", 365, seed=1, signal="none").set_index("date")["close"]
    labels = regime_labels(close, H)
    half = len(labels) // 2
    oos = labels.index[half:]
    truth = labels.reindex(oos)
    rng = np.random.default_rng(3)
    shares = labels.iloc[:half].value_counts(normalize=True)
    no_skill = pd.Series(rng.choice(shares.index, size=len(oos), p=shares.to_numpy()), index=oos)
    honest = classification_report(truth, persistence_baseline(labels, H).reindex(oos)).accuracy
    leaky = classification_report(truth, persistence_baseline(labels, 1).reindex(oos)).accuracy
    majority = classification_report(truth, majority_baseline(labels.iloc[:half], oos)).accuracy
    print(
        f"random walk, h={H}: persistence (t-h) {honest:.3f}, leaky t-1 {leaky:.3f}, "
        f"majority {majority:.3f}"
    )
    # the label of t-1 shares 23 of 24 candles with the label of t: it looks excellent
    assert leaky > 0.8
    # t-h shares none, but GARCH volatility clustering persists: above the majority class
    assert honest > majority + 0.05
    for min_accuracy in (0.75, 0.0):  # refused by accuracy, and by persistence alone
        verdict = accuracy_gate(labels, no_skill, H, min_accuracy=min_accuracy)
        print(verdict.text())
        assert not verdict.passed
        assert verdict.failures[-1].startswith("does not beat persistence by 0.020")
    assert verdict.persistence.baseline_accuracy == pytest.approx(honest, abs=0.01)


def test_the_gate_passes_skill_and_names_each_failed_condition() -> None:
    market = generate_regime_market(["BTC/USDT"], "1h", 365, seed=2)
    labels = regime_labels(market.candles["BTC/USDT"].set_index("date")["close"], H)
    oos = labels.iloc[len(labels) // 2 :].dropna()
    good = accuracy_gate(labels, noisy_copy(oos, 0.9, seed=1, block=H), H)
    print(good.text())
    assert good.passed and good.failures == () and good.accuracy > 0.85
    assert good.text().startswith("passed: OOS accuracy 0.9")
    weak = accuracy_gate(labels, noisy_copy(oos, 0.3, seed=1, block=H), H)
    assert not weak.passed and len(weak.failures) == 2
    assert (
        weak.failures[0].startswith("OOS accuracy 0.4") and "min_accuracy 0.750" in weak.failures[0]
    )
    assert "vs 0.4" in weak.failures[1] and "one-sided p = " in weak.failures[1]
    # accurate, but not by the margin over persistence: only that condition fails
    close = accuracy_gate(labels, noisy_copy(oos, 0.9, seed=1, block=H), H, margin=0.6)
    assert close.failures and close.failures[0].startswith("does not beat persistence by 0.600")


def test_too_short_or_unindexed_inputs_are_one_line_errors() -> None:
    short = hourly(["bull", "bear"] * 50)
    with pytest.raises(ClassificationError, match=r"only 100 row\(s\).*at least 10"):
        beats_baseline(short, short, short, H)
    with pytest.raises(ClassificationError, match="candle dates as a unique index"):
        persistence_baseline(pd.Series(["a", "b"]), 1)
    with pytest.raises(ClassificationError, match="no row has both"):
        classification_report(hourly([None, "a"]), hourly(["a", None]))
    with pytest.raises(ClassificationError, match="class\\(es\\) c not in the class list a, b"):
        classification_report(hourly(["a", "c"]), hourly(["a", "b"]), classes=["a", "b"])
