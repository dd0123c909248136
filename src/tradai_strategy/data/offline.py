"""Offline markets for freqtrade: backtest without ever touching the exchange API.

Freqtrade builds an ``Exchange`` object even for backtesting, and that object loads the
exchange's markets (and for futures its leverage tiers) over the network.  On a machine
without network access (CI, air-gapped research boxes) a backtest therefore cannot start.

:func:`offline_markets` is a scoped context manager that, while active, replaces the few
``freqtrade.exchange.exchange.Exchange`` methods that talk to the exchange at start-up with
offline equivalents fed by :func:`build_market`.  Nothing is patched at import time; the
original methods are restored when the outermost context exits, even on exceptions.

Patched methods (class level, inherited by every exchange subclass, none of which override
them in freqtrade 2026.9):

* ``_load_async_markets`` - installs generated ccxt markets via ``set_markets`` instead of
  ``load_markets()`` (which calls ``exchangeInfo`` and, for binance, ``fetch_currencies``).
  ``reload_markets`` then proceeds normally and copies them to the sync API.
* ``fetch_trading_fees`` - returns ``{}`` (network call on exchanges with
  ``needs_trading_fees``).
* ``check_time_offset`` - no-op (``fetch_time`` network call, trade modes only).
* ``ft_additional_exchange_init`` - no-op (binance futures queries private account settings
  when not in dry-run; other exchanges do similar checks).
* ``fill_leverage_tiers`` - offline tiers: the tiers bundled with freqtrade (binance), the
  datadir's cached ``futures/leverage_tiers_<STAKE>.json`` and a simple generated tier for any
  remaining futures market, so synthetic pairs can be backtested in futures mode too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import freqtrade.exchange as ft_exchange_pkg
from freqtrade.data.history.datahandlers.idatahandler import get_datahandlerclass
from freqtrade.enums import TradingMode
from freqtrade.exchange.exchange import Exchange
from freqtrade.misc import json_load

logger = logging.getLogger(__name__)

__all__ = [
    "DATA_FORMATS",
    "PATCHED_EXCHANGE_METHODS",
    "build_leverage_tiers",
    "build_market",
    "build_markets",
    "offline_markets",
    "offline_markets_active",
    "pairs_in_datadir",
    "split_pair",
]

#: OHLCV storage formats freqtrade 2026.9 can read.
DATA_FORMATS: tuple[str, ...] = ("feather", "parquet", "json", "jsongz")

#: Names of the ``Exchange`` attributes replaced while :func:`offline_markets` is active.
PATCHED_EXCHANGE_METHODS: tuple[str, ...] = (
    "_load_async_markets",
    "fetch_trading_fees",
    "check_time_offset",
    "ft_additional_exchange_init",
    "fill_leverage_tiers",
)

DEFAULT_FEE = 0.001
#: step size of prices and amounts in the generated markets (ccxt TICK_SIZE mode)
TICK = 1e-8
_MIN_COST = 5.0
_MAX_LEVERAGE = 20.0
_REGEX_CHARS = frozenset("*?[]()|^$\\{}+")


def split_pair(pair: str) -> tuple[str, str, str | None]:
    """Split ``BASE/QUOTE`` or ``BASE/QUOTE:SETTLE`` into ``(base, quote, settle)``."""
    symbol, _, settle = pair.partition(":")
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote or "/" in quote:
        raise ValueError(f"Invalid pair {pair!r}: expected BASE/QUOTE or BASE/QUOTE:SETTLE")
    return base, quote, settle or None


def build_market(
    pair: str, trading_mode: str = "spot", *, fee: float = DEFAULT_FEE
) -> dict[str, Any]:
    """Build a ccxt-unified market dict for ``pair``, shaped like binance's markets.

    ``trading_mode`` ``"spot"``/``"margin"`` gives a spot market ``BASE/QUOTE``;
    ``"futures"`` gives a linear perpetual swap ``BASE/QUOTE:SETTLE`` (settle defaults to the
    quote currency).  Precision follows ccxt's ``TICK_SIZE`` mode (binance's
    ``precisionMode``): precisions are step sizes, not decimal counts.  Limits are loose
    (minimum notional 5 quote units) so stakes of ~100 USDT always pass.
    """
    mode = TradingMode(str(trading_mode))
    base, quote, settle = split_pair(pair)
    if mode == TradingMode.FUTURES:
        settle = settle or quote
        symbol = f"{base}/{quote}:{settle}"
    elif settle is not None:
        raise ValueError(f"{pair!r} is a futures symbol; pass trading_mode='futures'")
    else:
        symbol = f"{base}/{quote}"
    futures = mode == TradingMode.FUTURES
    market_id = f"{base}{quote}"
    return {
        "id": market_id,
        "lowercaseId": market_id.lower(),
        "symbol": symbol,
        "base": base,
        "quote": quote,
        "settle": settle if futures else None,
        "baseId": base,
        "quoteId": quote,
        "settleId": settle if futures else None,
        "type": "swap" if futures else "spot",
        "spot": not futures,
        "margin": mode == TradingMode.MARGIN,
        "swap": futures,
        "future": False,
        "option": False,
        "index": None,
        "active": True,
        "contract": futures,
        "linear": True if futures else None,
        "inverse": False if futures else None,
        "subType": "linear" if futures else None,
        "taker": fee,
        "maker": fee,
        "contractSize": 1.0 if futures else None,
        "expiry": None,
        "expiryDatetime": None,
        "strike": None,
        "optionType": None,
        "precision": {
            "amount": TICK,
            "price": TICK,
            "cost": None,
            "base": TICK,
            "quote": TICK,
        },
        "limits": {
            "leverage": {"min": 1.0, "max": _MAX_LEVERAGE if futures else 1.0},
            "amount": {"min": TICK, "max": None},
            "price": {"min": TICK, "max": None},
            "cost": {"min": _MIN_COST, "max": None},
            "market": {"min": TICK, "max": None},
        },
        "marginModes": {"cross": futures, "isolated": futures},
        "created": None,
        "info": {},
    }


def build_leverage_tiers(symbol: str, *, max_leverage: float = _MAX_LEVERAGE) -> list[dict]:
    """A single, unbounded ccxt leverage tier (the format ``parse_leverage_tier`` expects)."""
    _, quote, settle = split_pair(symbol)
    return [
        {
            "tier": 1.0,
            "symbol": symbol,
            "currency": settle or quote,
            "minNotional": 0.0,
            "maxNotional": 1e12,
            "maintenanceMarginRate": 0.01,
            "maxLeverage": max_leverage,
            "info": {"cum": 0.0},
        }
    ]


def _is_pattern(pair: str) -> bool:
    """True for pairlist entries that are regex patterns (``.*/USDT``) rather than pairs."""
    return any(ch in _REGEX_CHARS for ch in pair)


def build_markets(pairs: Iterable[str], *, fee: float = DEFAULT_FEE) -> dict[str, dict]:
    """Spot *and* linear-swap markets for every base/quote in ``pairs``.

    Real exchanges list both (binance's ``load_markets`` returns spot and futures markets
    whatever the trading mode), and generating both lets one datadir serve either mode.
    Regex pairlist entries are skipped.
    """
    markets: dict[str, dict] = {}
    for pair in pairs:
        if _is_pattern(pair):
            continue
        base, quote, settle = split_pair(pair)
        spot = build_market(f"{base}/{quote}", "spot", fee=fee)
        swap = build_market(f"{base}/{quote}:{settle or quote}", "futures", fee=fee)
        markets.setdefault(spot["symbol"], spot)
        markets.setdefault(swap["symbol"], swap)
    return markets


def pairs_in_datadir(datadir: str | Path, trading_mode: str = "spot") -> list[str]:
    """Pairs with OHLCV files (any supported format) in ``datadir`` for ``trading_mode``.

    Futures data lives in ``<datadir>/futures``; freqtrade's data handlers know the layout.
    """
    path = Path(datadir)
    mode = TradingMode(str(trading_mode))
    found: set[str] = set()
    if not path.is_dir():
        return []
    for fmt in DATA_FORMATS:
        handler = get_datahandlerclass(fmt)
        for pair, _timeframe, _candle_type in handler.ohlcv_get_available_data(path, mode):
            found.add(pair)
    return sorted(found)


# --------------------------------------------------------------------------- patch state
_lock = threading.RLock()
_stack: list[dict[str, dict]] = []
_saved: dict[str, Any] = {}


def offline_markets_active() -> bool:
    """True while at least one :func:`offline_markets` context is active."""
    with _lock:
        return bool(_stack)


def _current_markets() -> dict[str, dict]:
    """Union of the markets of all active contexts (innermost wins)."""
    with _lock:
        merged: dict[str, dict] = {}
        for markets in _stack:
            merged.update(markets)
        return merged


def _offline_load_async_markets(self: Exchange, reload: bool = False) -> None:
    """Replacement for ``Exchange._load_async_markets``: no ``load_markets()`` call."""
    markets = _current_markets()
    logger.info("Offline mode: installing %d generated markets (no exchange API).", len(markets))
    self._api_async.set_markets(markets)


def _offline_fetch_trading_fees(self: Exchange) -> dict[str, Any]:
    return {}


def _offline_noop(self: Exchange) -> None:
    return None


def _bundled_tiers(exchange: Exchange) -> dict[str, list[dict]]:
    """Leverage tiers shipped inside freqtrade for this exchange (binance), if any."""
    path = Path(ft_exchange_pkg.__file__).parent / f"{exchange._api.id}_leverage_tiers.json"
    if not path.is_file():
        return {}
    with path.open() as fh:
        data = json_load(fh)
    return data if isinstance(data, dict) else {}


def _cached_tiers(exchange: Exchange) -> dict[str, list[dict]]:
    """Tiers cached by a previous online run in ``<datadir>/futures/leverage_tiers_<STAKE>.json``.

    Used regardless of age: offline, stale real tiers beat generated ones.
    """
    stake = exchange._config.get("stake_currency")
    datadir = exchange._config.get("datadir")
    if not stake or not datadir:
        return {}
    path = Path(datadir) / "futures" / f"leverage_tiers_{stake}.json"
    if not path.is_file():
        return {}
    try:
        with path.open() as fh:
            data = json_load(fh).get("data")
    except (OSError, ValueError, AttributeError):
        logger.warning("Ignoring unreadable cached leverage tiers %s", path)
        return {}
    return data if isinstance(data, dict) else {}


def _offline_fill_leverage_tiers(self: Exchange) -> None:
    """Replacement for ``Exchange.fill_leverage_tiers`` that never hits the network."""
    if self.trading_mode != TradingMode.FUTURES:
        return
    futures_symbols = [s for s, m in self.markets.items() if self.market_is_future(m)]
    raw: dict[str, list[dict]] = {s: build_leverage_tiers(s) for s in futures_symbols}
    known = set(futures_symbols)
    for source in (_bundled_tiers(self), _cached_tiers(self)):
        raw.update({s: t for s, t in source.items() if s in known and t})
    for symbol, tiers in raw.items():
        self._leverage_tiers[symbol] = [self.parse_leverage_tier(t) for t in tiers]


_REPLACEMENTS: dict[str, Callable[..., Any]] = {
    "_load_async_markets": _offline_load_async_markets,
    "fetch_trading_fees": _offline_fetch_trading_fees,
    "check_time_offset": _offline_noop,
    "ft_additional_exchange_init": _offline_noop,
    "fill_leverage_tiers": _offline_fill_leverage_tiers,
}


def _install() -> None:
    for name in PATCHED_EXCHANGE_METHODS:
        _saved[name] = Exchange.__dict__[name]
        setattr(Exchange, name, _REPLACEMENTS[name])


def _uninstall() -> None:
    for name, original in _saved.items():
        setattr(Exchange, name, original)
    _saved.clear()


@contextmanager
def offline_markets(
    pairs: Iterable[str] | None = None,
    *,
    datadir: str | Path | None = None,
    trading_mode: str = "spot",
    fee: float = DEFAULT_FEE,
) -> Iterator[dict[str, dict]]:
    """Make freqtrade's ``Exchange`` use generated markets instead of the network.

    Markets are generated (spot and linear swap) for ``pairs`` plus every pair with data in
    ``datadir`` (spot and ``futures/`` sub-directory).  ``trading_mode`` is accepted for
    symmetry with :func:`pairs_in_datadir` and validated; both market kinds are always
    generated.  Contexts nest: inner contexts add markets, and the ``Exchange`` methods are
    restored when the outermost context exits.  Yields the generated markets of this context.
    """
    TradingMode(str(trading_mode))
    all_pairs: list[str] = list(pairs or [])
    if datadir is not None:
        for mode in ("spot", "futures"):
            all_pairs.extend(pairs_in_datadir(datadir, mode))
    markets = build_markets(all_pairs, fee=fee)
    with _lock:
        if not _stack:
            _install()
        _stack.append(markets)
    try:
        yield markets
    finally:
        with _lock:
            del _stack[next(i for i, m in enumerate(_stack) if m is markets)]
            if not _stack:
                _uninstall()
