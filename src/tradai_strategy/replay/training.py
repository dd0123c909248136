"""FreqAI's live training thread on the simulated clock.

A live bot's FreqAI thread (``IFreqaiModel.start_scanning``) polls once a real second and
(re)trains a pair as soon as FreqAI's own test says so
(``FreqaiDataKitchen.check_if_new_training_required``: never trained, or more than
``live_retrain_hours`` elapsed since the pair's ``trained_timestamp``). A replay moves from
one candle to the next as soon as the bot is done, long before the thread gets a turn, and
its clock only stands at candle boundaries. So between two bot iterations the replay
(:func:`catch_up_training`) computes, per pair, the instant the live thread would start that
training -- ``trained_timestamp + live_retrain_hours + 1 s`` (its one-second poll; at once for
a pair never trained) -- and, when that instant falls before the next iteration, moves the
clock there and waits (:func:`wait_for_training`) until the thread has trained every pair due
at that time. It is the replay of a bot whose trainings take no time: the model trained
``live_retrain_hours`` after the previous one serves from the next candle on, as it would
live, and the interval does not drift by a candle per retrain.

Models that do not train (TradAI's inference models) never start the thread and are not
waited for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

logger = logging.getLogger(__name__)

__all__ = ["catch_up_training", "needs_training", "training_due", "wait_for_training"]

#: real seconds a replay waits for one candle's training before it moves on (logged)
TRAINING_WAIT_SECONDS = 300.0
#: FreqAI's training thread checks its queue once a second
THREAD_POLL_SECONDS = 1.0


def needs_training(freqai: Any, pair: str) -> bool:
    """FreqAI's own answer: would its training thread (re)train ``pair`` now?"""
    _, trained_timestamp = freqai.dd.get_pair_dict_info(pair)
    kitchen = FreqaiDataKitchen(freqai.config, freqai.live, pair)
    return bool(kitchen.check_if_new_training_required(trained_timestamp)[0])


def training_due(freqai: Any, pair: str, now: datetime) -> datetime:
    """When the live thread would next start training ``pair`` (``now`` if never trained)."""
    _, trained_timestamp = freqai.dd.get_pair_dict_info(pair)
    if not trained_timestamp:
        return now
    hours = float(freqai.freqai_info.get("live_retrain_hours", 0) or 0)
    due = trained_timestamp + hours * 3600 + THREAD_POLL_SECONDS
    return max(now, datetime.fromtimestamp(due, UTC))


def training_thread(bot: Any) -> Any:
    """The bot's FreqAI model when its live training thread runs, else None."""
    freqai = getattr(bot.strategy, "freqai", None)
    return freqai if freqai is not None and getattr(freqai, "scanning", False) else None


def wait_for_training(bot: Any, timeout: float = TRAINING_WAIT_SECONDS) -> bool:
    """Block until FreqAI's training thread has no pair left to train at the current time.

    The thread rotates its queue after every attempt, failed or not; once the queue's head
    has moved as many times as there are pairs while a pair still needs training, its
    training failed (FreqAI logged why) and the replay moves on rather than wait for a
    training that will fail again. Returns False then, or after ``timeout`` real seconds.
    """
    freqai = training_thread(bot)
    if freqai is None:
        return True
    deadline = time.monotonic() + timeout
    queue = freqai.train_queue
    head, moves = (queue[0] if queue else None), 0
    while any(needs_training(freqai, pair) for pair in bot.active_pair_whitelist):
        now_head = queue[0] if queue else None
        moves += now_head != head
        head = now_head
        if moves > len(queue) or time.monotonic() > deadline:
            logger.warning("replay: FreqAI training did not complete this candle; moving on")
            return False
        time.sleep(0.2)
    return True


def catch_up_training(
    bot: Any, now: datetime, next_iteration: datetime, move_clock: Callable[[datetime], None]
) -> int:
    """Run every training the live thread would start before ``next_iteration`` (module doc),
    each at its own instant; returns how many pairs were (re)trained."""
    freqai = training_thread(bot)
    if freqai is None:
        return 0
    waiting = list(bot.active_pair_whitelist)
    trained = 0
    while waiting:  # each pair at most once per candle: trainings take no simulated time
        before = {p: freqai.dd.get_pair_dict_info(p)[1] for p in waiting}
        due = min(training_due(freqai, p, now) for p in waiting)
        if due >= next_iteration:
            break
        if due > now:
            move_clock(due)
            now = due
        ok = wait_for_training(bot)
        done = [p for p in waiting if freqai.dd.get_pair_dict_info(p)[1] != before[p]]
        trained += len(done)
        if not ok or not done:
            break
        waiting = [p for p in waiting if p not in done]
    return trained
