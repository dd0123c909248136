"""The replay exchange: freqtrade's ``Exchange`` with its ccxt objects answering from candles.

Freqtrade's dry-run bot talks to the exchange through two ccxt objects (``_api``, sync, and
``_api_async``). :func:`replay_exchange` is a scoped context manager that, while active,

* installs generated markets and skips the start-up network calls, exactly as offline
  backtests do (:func:`~tradai_strategy.data.offline.offline_markets`);
* wraps ``Exchange._init_ccxt`` so that every ccxt object freqtrade creates gets the market
  data methods the dry-run bot uses answered by a :class:`~tradai_strategy.replay.feed.
  CandleFeed` at the *current wall-clock time* (the replay's simulated clock):
  ``fetch_ohlcv`` (async: candle refresh, FreqAI's start-up download), ``fetch_ticker``,
  ``fetch_tickers``, ``fetch_bids_asks`` and ``fetch_l2_order_book``/``fetch_order_book``;
* makes the ccxt HTTP layer (``fetch``) refuse any other request with ``ccxt.NotSupported``
  (freqtrade turns it into an ``OperationalException``), so a call the replay does not
  simulate fails loudly instead of reaching the network.

Everything above ccxt is freqtrade's own code: candle caching and partial-candle dropping,
pricing (``get_rate``), dry-run order creation and fills (``create_dry_run_order``,
``check_dry_limit_order_filled``), fees from the generated markets, dry-run wallets.

Prices: bid = ask = last = the feed's current price (the forming candle's open) on the
generated markets' price grid (:data:`~tradai_strategy.data.offline.TICK`, as an exchange
quotes on its tick grid: an off-grid quote made freqtrade's rounded limit fall a hair below
the ask and the entry wait), with one order-book level per side of practically unlimited
size. Hence a dry-run limit order at the
quoted price fills at once at that price (freqtrade fills a buy when its limit is at or above
the best ask, a sell when at or below the best bid), a market order fills at it without
slippage, and a limit away from it waits until a later candle's open crosses it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import ccxt
from freqtrade.exchange.exchange import Exchange
from freqtrade.exchange.exchange_utils import price_to_precision

from tradai_strategy.data.offline import TICK, offline_markets
from tradai_strategy.replay.feed import CandleFeed

__all__ = ["BOOK_DEPTH", "ReplayMarketData", "replay_exchange"]

#: size of the single order-book level on each side (base units): never exhausted
BOOK_DEPTH = 1e12


def now_ms() -> int:
    """The (simulated) wall-clock time in milliseconds: what the exchange's "now" is."""
    return int(time.time() * 1000)


class ReplayMarketData:
    """ccxt-shaped answers (tickers, order books, candles) from a feed at the current time."""

    def __init__(self, feed: CandleFeed, timeframe: str, pairs: Iterable[str]) -> None:
        self.feed = feed
        self.timeframe = timeframe
        self.pairs = list(pairs)

    def _price(self, symbol: str, now: int) -> float:
        price = self.feed.price(symbol, self.timeframe, now)
        if price is None:
            raise ccxt.BadSymbol(f"replay: no candle of {symbol} at or before {_iso(now)}")
        return price_to_precision(price, TICK, ccxt.TICK_SIZE, rounding_mode=ccxt.ROUND)

    def ticker(self, symbol: str) -> dict[str, Any]:
        now = now_ms()
        price = self._price(symbol, now)
        closed = self.feed.last_closed(symbol, self.timeframe, now)
        volume = closed[1] if closed else 0.0
        return {
            "symbol": symbol,
            "timestamp": now,
            "datetime": _iso(now),
            "high": price,
            "low": price,
            "bid": price,
            "bidVolume": BOOK_DEPTH,
            "ask": price,
            "askVolume": BOOK_DEPTH,
            "vwap": price,
            "open": price,
            "close": price,
            "last": price,
            "previousClose": closed[0] if closed else None,
            "change": None,
            "percentage": None,
            "average": price,
            "baseVolume": volume,
            "quoteVolume": volume * price,
            "info": {},
        }

    def tickers(self, symbols: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        out = {}
        for symbol in symbols or self.pairs:
            try:
                out[symbol] = self.ticker(symbol)
            except ccxt.BadSymbol:
                continue  # no candle yet: an exchange omits such symbols from fetch_tickers
        return out

    def order_book(self, symbol: str) -> dict[str, Any]:
        now = now_ms()
        price = self._price(symbol, now)
        return {
            "symbol": symbol,
            "bids": [[price, BOOK_DEPTH]],
            "asks": [[price, BOOK_DEPTH]],
            "timestamp": now,
            "datetime": _iso(now),
            "nonce": None,
        }

    def ohlcv(
        self, symbol: str, timeframe: str, since: int | None, limit: int | None, params: dict
    ) -> list[list[float]]:
        candle_type = (params or {}).get("price")  # freqtrade asks mark/index candles so
        return self.feed.ohlcv(
            symbol, timeframe, now_ms(), since_ms=since, limit=limit, candle_type=candle_type
        )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _refuse(*args: Any, **kwargs: Any) -> Any:
    url = args[0] if args else kwargs.get("url", "?")
    raise ccxt.NotSupported(f"replay exchange: {url} is not simulated (no network in a replay)")


async def _refuse_async(*args: Any, **kwargs: Any) -> Any:
    return _refuse(*args, **kwargs)


def attach_market_data(api: Any, sync: bool, data: ReplayMarketData) -> None:
    """Point one ccxt object's market-data methods at ``data``; refuse its HTTP layer."""
    if sync:
        api.fetch_ticker = lambda symbol, params=None: data.ticker(symbol)
        api.fetch_tickers = lambda symbols=None, params=None: data.tickers(symbols)
        api.fetch_bids_asks = lambda symbols=None, params=None: data.tickers(symbols)
        api.fetch_l2_order_book = lambda symbol, limit=None, params=None: data.order_book(symbol)
        api.fetch_order_book = api.fetch_l2_order_book
        api.fetch = _refuse
        return

    async def fetch_ohlcv(
        symbol: str,
        timeframe: str = "1m",
        since: int | None = None,
        limit: int | None = None,
        params: dict | None = None,
    ) -> list[list[float]]:
        return data.ohlcv(symbol, timeframe, since, limit, params or {})

    api.fetch_ohlcv = fetch_ohlcv
    api.fetch = _refuse_async


@contextmanager
def replay_exchange(data: ReplayMarketData, pairs: Iterable[str]) -> Iterator[None]:
    """While active, every freqtrade ``Exchange`` built is a replay exchange (module doc).

    Not re-entrant with another replay: one simulated clock per process. ``pairs`` get
    generated markets (plus every pair with candles in the feed's datadir).
    """
    original = Exchange.__dict__["_init_ccxt"]
    if getattr(original, "tradai_replay", False):
        raise RuntimeError("a replay exchange is already active in this process")

    def init_ccxt(
        self: Exchange, exchange_config: dict[str, Any], sync: bool, ccxt_kwargs: dict[str, Any]
    ) -> Any:
        api = original(self, exchange_config, sync, ccxt_kwargs)
        attach_market_data(api, sync, data)
        return api

    init_ccxt.tradai_replay = True  # type: ignore[attr-defined]
    with offline_markets(pairs, datadir=data.feed.datadir):
        Exchange._init_ccxt = init_ccxt
        try:
            yield
        finally:
            Exchange._init_ccxt = original
