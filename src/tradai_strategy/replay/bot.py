"""The simulated clock and freqtrade's own ``Worker`` stepped candle by candle on it.

:class:`ReplayClock` freezes the process's wall clock (``time-machine``: ``time.time``,
``datetime.now`` and friends, in every thread; ``time.monotonic`` and real sleeps are left
alone, so asyncio, thread joins and timeouts behave) at one point per candle. Step ``i``
is ``first + i * timeframe + offset``: the bot runs right after candle ``first + (i-1) *
timeframe`` closed, as a live bot does (freqtrade's worker wakes up 1 s after a candle
boundary), so the signal candles of a replay of ``START-STOP`` are exactly the candles a
backtest of ``START-STOP`` trades on.

:class:`ReplayWorker` is freqtrade's ``Worker`` with one change: its ``_sleep`` (the hook
freqtrade keeps for tests) does not sleep but records what the bot just decided and moves
the clock to the next candle. ``Worker.run()`` -- state handling, ``FreqtradeBot.process()``
with its candle refresh, FreqAI, order management and the trade database -- is freqtrade's.
The replay ends by raising a private exception from that hook after the last candle, which
:meth:`ReplayWorker.replay` catches: the worker's loop then returns normally.
Before moving the clock to the next candle the hook lets FreqAI's live training thread run
the trainings a live bot's would start before it, each at its own simulated instant
(:mod:`~tradai_strategy.replay.training`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from freqtrade.enums import State
from freqtrade.freqtradebot import FreqtradeBot
from freqtrade.worker import Worker

from tradai_strategy.core.errors import TradAIError
from tradai_strategy.replay.training import catch_up_training

__all__ = ["ReplayBotStopped", "ReplayClock", "ReplayWorker"]

#: seconds after a candle boundary at which the bot runs (freqtrade's worker uses 1 s)
BOUNDARY_OFFSET_SECONDS = 1.0


class _Finished(Exception):
    """Raised from the worker's sleep hook once the last candle has been processed (control
    flow: caught by :meth:`ReplayWorker.replay`)."""


class ReplayBotStopped(TradAIError):
    """The bot stopped itself mid-replay (an OperationalException in its loop)."""


class ReplayClock:
    """Frozen wall-clock time, moved one candle at a time (module doc).

    :param first_signal: open time of the first candle the bot acts on (UTC).
    :param candles: how many candles the bot acts on (iterations).
    """

    def __init__(
        self,
        first_signal: datetime,
        candles: int,
        timeframe: timedelta,
        offset_seconds: float = BOUNDARY_OFFSET_SECONDS,
    ) -> None:
        if candles < 1:
            raise ValueError("a replay needs at least one candle")
        self.first_signal = first_signal
        self.candles = candles
        self.timeframe = timeframe
        self.offset = timedelta(seconds=offset_seconds)
        self.step = 0
        self._traveller: Any = None
        self._coordinates: Any = None

    def time_at(self, step: int) -> datetime:
        """Simulated wall-clock time of iteration ``step``."""
        return self.first_signal + (step + 1) * self.timeframe + self.offset

    def signal_candle(self, step: int | None = None) -> datetime:
        """Open time of the newest closed candle at iteration ``step`` (default: current)."""
        return self.first_signal + (self.step if step is None else step) * self.timeframe

    @property
    def now(self) -> datetime:
        return self.time_at(self.step)

    def __enter__(self) -> ReplayClock:
        self._traveller = time_machine.travel(self.now, tick=False)
        self._coordinates = self._traveller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._traveller is not None:
            self._traveller.stop()
            self._traveller = self._coordinates = None

    def move_to(self, when: datetime) -> None:
        """Move the clock within the current candle (a training between two iterations)."""
        if not self.now <= when < self.time_at(self.step + 1):
            raise ValueError(f"{when} is not between iteration {self.step} and the next")
        self._coordinates.move_to(when)

    @property
    def has_next(self) -> bool:
        return self.step + 1 < self.candles

    def advance(self) -> bool:
        """Move to the next candle; False (and no move) after the last one."""
        if self.step + 1 >= self.candles:
            return False
        self.step += 1
        self._coordinates.move_to(self.now)
        return True


class ReplayWorker(Worker):
    """freqtrade's ``Worker`` whose sleep advances the replay clock (module doc).

    ``on_iteration(bot, step)`` runs after each ``process()`` of the bot, before the clock
    moves: the place to record what the bot saw and decided on that candle.
    ``between(now, next_iteration, move_clock)`` runs after FreqAI's trainings of the gap:
    scripted events (:mod:`~tradai_strategy.replay.scripted`). ``on_done(step)`` runs last,
    once nothing of that step is left to do (the resume point).
    """

    def __init__(
        self,
        args: dict[str, Any],
        config: dict[str, Any],
        clock: ReplayClock,
        on_iteration: Callable[[FreqtradeBot, int], None],
        between: Callable[[datetime, datetime, Callable[[datetime], None]], None] | None = None,
        on_done: Callable[[int], None] | None = None,
    ) -> None:
        self.replay_clock = clock
        self.on_iteration = on_iteration
        self.between = between
        self.on_done = on_done
        self.iterations = 0
        self.trainings = 0
        super().__init__(args, config)

    def _sleep(self, sleep_duration: float) -> None:
        """No sleep: record the iteration, then jump to the next candle (or finish)."""
        if self.freqtrade.state != State.RUNNING:
            raise ReplayBotStopped(
                f"the bot stopped at {self.replay_clock.now:%Y-%m-%d %H:%M} (replay step "
                f"{self.replay_clock.step}): the bot log says why"
            )
        clock = self.replay_clock
        self.on_iteration(self.freqtrade, clock.step)
        self.iterations += 1
        if clock.has_next:
            upcoming = clock.time_at(clock.step + 1)
            self.trainings += catch_up_training(self.freqtrade, clock.now, upcoming, clock.move_to)
            if self.between is not None:
                self.between(self.current_time(), upcoming, clock.move_to)
        if self.on_done is not None:
            self.on_done(clock.step)  # everything up to the next iteration is done
        if not clock.advance():
            raise _Finished

    @staticmethod
    def current_time() -> datetime:
        """The simulated wall-clock time now (it may have moved within the candle)."""
        return datetime.now(UTC)

    def replay(self) -> None:
        """Run the bot's loop until the last candle has been processed."""
        with contextlib.suppress(_Finished):
            self.run()
