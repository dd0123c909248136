"""FreqAI's live training thread on the simulated clock.

A live bot gives FreqAI's background thread (``IFreqaiModel.start_scanning``) a whole candle
of real time to (re)train between two bot iterations; a replay moves to the next candle as
soon as the bot is done, long before the thread (which polls once a second) gets a turn. So
after each iteration the replay waits until no whitelisted pair needs training at the current
simulated time (FreqAI's own test: ``FreqaiDataKitchen.check_if_new_training_required`` against
the pair's ``trained_timestamp``, i.e. the initial training, then every
``live_retrain_hours`` of simulated time) -- the replay of a bot whose training always
finishes within one candle. Models that do not train (TradAI's inference models) never start
the thread and are not waited for.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

logger = logging.getLogger(__name__)

__all__ = ["needs_training", "wait_for_training"]

#: real seconds a replay waits for one candle's training before it moves on (logged)
TRAINING_WAIT_SECONDS = 300.0


def needs_training(freqai: Any, pair: str) -> bool:
    """FreqAI's own answer: would its training thread (re)train ``pair`` now?"""
    _, trained_timestamp = freqai.dd.get_pair_dict_info(pair)
    kitchen = FreqaiDataKitchen(freqai.config, freqai.live, pair)
    return bool(kitchen.check_if_new_training_required(trained_timestamp)[0])


def wait_for_training(bot: Any, timeout: float = TRAINING_WAIT_SECONDS) -> bool:
    """Block until FreqAI's training thread has no pair left to train (module doc).

    The thread rotates its queue after every attempt, failed or not; once the queue's head
    has moved as many times as there are pairs while a pair still needs training, its
    training failed (FreqAI logged why) and the replay moves on rather than wait for a
    training that will fail again. Returns False then, or after ``timeout`` real seconds.
    """
    freqai = getattr(bot.strategy, "freqai", None)
    if freqai is None or not getattr(freqai, "scanning", False):
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
