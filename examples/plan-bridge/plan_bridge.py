#!/usr/bin/env python3
"""The plan's bridge, built as its sketches describe it (../../../shared/plan, docs/PROFILES.md).

FastAPI + uvicorn + watchdog, in three modes:

  event           Phase 2: watchdog notices a file change, the new records are read from the last
                  offset, the state updated, and each update pushed once-encoded to the WebSocket
                  clients of that symbol (/ws/live_data/{symbol}); quotes as deltas of the changed
                  fields; /api/live_data answered from memory (the HTTP fallback); the dashboard
                  SSE every 5 s.
  polling-naive   The old bridge: /api/live_data/{symbol} lists the folder, reads the whole file
                  and finds the last trade, on every request; uvicorn's defaults.
  polling-cached  Phase 1: the same read behind a 3 s TTL cache with request deduplication,
                  concurrency 10, keep-alive 1 s, `Connection: close`.

It is meant to be honest and competent, not a strawman: it encodes each update once, sends to
all clients of a symbol concurrently, reads only what was appended, and never holds a whole file
in event mode. It is what BridgeLab measures beside its reference bridge
(scenarios/plan-bridge-vs-reference.yaml).
"""

import argparse
import asyncio
import contextlib
import json
import os
import struct
import threading
import time
from datetime import datetime, timedelta, timezone

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, StreamingResponse
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

HEADER_SIZE = 56
RECORD_SIZE = 40
RECORD = struct.Struct("<qffffIIII")
SC_EPOCH_US = 2_209_161_600_000_000
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MONTHS = "FGHJKMNQUVXZ"


def iso(sc_microseconds):
    """A record's time (Sierra Chart µs since 1899-12-30) as ISO-8601 UTC, to the microsecond."""
    return (UNIX_EPOCH + timedelta(microseconds=sc_microseconds - SC_EPOCH_US)).isoformat()


def expiry(name, root):
    """(year, month) of a contract file name like NQZ25-CME, or None."""
    rest = name[len(root):]
    if len(rest) < 2 or rest[0] not in MONTHS:
        return None
    digits = ""
    for char in rest[1:]:
        if not char.isdigit():
            break
        digits += char
    if not digits:
        return None
    return (int(digits), MONTHS.index(rest[0]))


class Folder:
    """The Data folder: which contract a symbol means (a contract, or a root's active contract:
    the latest-expiring one whose file holds a record)."""

    def __init__(self, path):
        self.path = path

    def contracts(self):
        return sorted(name[:-5] for name in os.listdir(self.path) if name.endswith(".scid"))

    def file(self, contract):
        return os.path.join(self.path, contract + ".scid")

    def resolve(self, symbol):
        names = self.contracts()
        if symbol in names:
            return symbol
        best = None
        for name in names:
            if not name.startswith(symbol.upper()):
                continue
            key = expiry(name, symbol.upper())
            if key is None or os.path.getsize(self.file(name)) <= HEADER_SIZE:
                continue
            if best is None or key > best[0]:
                best = (key, name)
        return best[1] if best else None


def last_trade_in(data, count):
    """The last trade and the last quote among `count` records in `data` (scanned backwards)."""
    trade = quote = None
    for index in range(count - 1, -1, -1):
        when, _open, high, low, close, _trades, volume, _bid_volume, _ask_volume = RECORD.unpack_from(data, index * RECORD_SIZE)
        if trade is None and volume > 0:
            trade = {"price": close, "size": volume, "bid": low, "ask": high, "timestamp": iso(when)}
        if quote is None and high and low:
            quote = {"bid": low, "ask": high}
        if trade is not None and quote is not None:
            break
    return trade, quote


class ContractState:
    """One contract's live state and where its file was read to."""

    def __init__(self, contract, path, offset):
        self.contract = contract
        self.path = path
        self.offset = offset
        self.trade = None
        self.bid = None
        self.ask = None
        self.volume = 0
        self.trades = 0

    def load_tail(self, records=2048):
        """The state as the file's last records give it (never the whole file)."""
        size = os.path.getsize(self.path)
        count = max(0, (size - HEADER_SIZE) // RECORD_SIZE)
        first = max(0, count - records)
        with open(self.path, "rb") as file:
            file.seek(HEADER_SIZE + first * RECORD_SIZE)
            data = file.read((count - first) * RECORD_SIZE)
        trade, quote = last_trade_in(data, count - first)
        self.trade = trade
        if quote:
            self.bid, self.ask = quote["bid"], quote["ask"]
        self.offset = HEADER_SIZE + count * RECORD_SIZE

    def snapshot(self):
        data = {"bid": self.bid, "ask": self.ask, "volume": self.volume, "trades": self.trades}
        if self.trade:
            data.update(self.trade)
        return {"type": "snapshot", "symbol": self.contract, "data": data}

    def read_new(self):
        """The messages for the records appended since the last read: a trade each, and a delta
        of the fields that changed for a quote."""
        try:
            size = os.path.getsize(self.path)
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset = HEADER_SIZE  # rewritten: read it again from its first record
        whole = (size - self.offset) // RECORD_SIZE
        if whole <= 0:
            return []
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            data = file.read(whole * RECORD_SIZE)
        whole = len(data) // RECORD_SIZE
        self.offset += whole * RECORD_SIZE
        messages = []
        for index in range(whole):
            when, _open, high, low, close, _trades, volume, _bid_volume, _ask_volume = RECORD.unpack_from(data, index * RECORD_SIZE)
            if volume > 0:
                self.trade = {"price": close, "size": volume, "bid": low, "ask": high, "timestamp": iso(when)}
                self.volume += volume
                self.trades += 1
                self.bid, self.ask = low, high
                messages.append({"type": "trade", "symbol": self.contract, "data": self.trade})
            elif high and low:
                delta = {}
                if low != self.bid:
                    delta["bid"] = self.bid = low
                if high != self.ask:
                    delta["ask"] = self.ask = high
                if delta:
                    delta["timestamp"] = iso(when)
                    messages.append({"type": "delta", "symbol": self.contract, "data": delta})
        return messages


class SierraFileWatcher(FileSystemEventHandler):
    """watchdog's thread hands each changed .scid path to the event loop (Phase 2.1)."""

    def __init__(self, loop, changed):
        self.loop = loop
        self.changed = changed

    def on_modified(self, event):
        if not event.is_directory and event.src_path.endswith(".scid"):
            self.loop.call_soon_threadsafe(self.changed, event.src_path)

    on_created = on_modified
    on_moved = on_modified


class Bridge:
    def __init__(self, data_dir, mode):
        self.folder = Folder(data_dir)
        self.mode = mode
        self.started = time.time()
        self.states = {}
        self.clients = {}  # contract -> set of WebSockets (a root's clients under its contract)
        self.pending = set()
        self.wake = None
        self.requests = 0
        self.cache = {}
        self.cache_lock = threading.Lock()
        self.read_locks = {}

    # -- event mode -------------------------------------------------------------------------

    def state(self, contract):
        state = self.states.get(contract)
        if state is None:
            state = ContractState(contract, self.folder.file(contract), HEADER_SIZE)
            state.load_tail()
            self.states[contract] = state
        return state

    def changed(self, path):
        self.pending.add(path)
        self.wake.set()

    async def run_watcher(self):
        """Buffers file events (one read per file however many events came) and pushes updates."""
        self.wake = asyncio.Event()
        for contract in self.folder.contracts():
            self.state(contract)
        observer = Observer()
        observer.schedule(SierraFileWatcher(asyncio.get_running_loop(), self.changed), self.folder.path, recursive=False)
        observer.start()
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                paths, self.pending = self.pending, set()
                for path in paths:
                    contract = os.path.basename(path)[:-5]
                    known = contract in self.states
                    state = self.state(contract)
                    if not known:
                        state.offset = HEADER_SIZE  # a new contract: everything in it is new
                    for message in state.read_new():
                        await self.broadcast(contract, json.dumps(message))
        finally:
            observer.stop()

    async def broadcast(self, contract, text):
        clients = self.clients.get(contract)
        if not clients:
            return
        results = await asyncio.gather(*(client.send_text(text) for client in clients), return_exceptions=True)
        for client, result in zip(list(clients), results):
            if isinstance(result, Exception):
                clients.discard(client)

    # -- polling ----------------------------------------------------------------------------

    def read_latest(self, symbol):
        """The old bridge's read: list the folder, read the whole file, find the last trade."""
        contract = self.folder.resolve(symbol)
        if contract is None:
            return None
        with open(self.folder.file(contract), "rb") as file:
            data = file.read()
        count = max(0, (len(data) - HEADER_SIZE) // RECORD_SIZE)
        trade, quote = last_trade_in(memoryview(data)[HEADER_SIZE:], count)
        return self.answer(contract, trade, quote)

    def answer(self, contract, trade, quote):
        return {
            "symbol": contract,
            "price": trade["price"] if trade else None,
            "bid": quote["bid"] if quote else None,
            "ask": quote["ask"] if quote else None,
            "last_trade": trade,
            "timestamp": datetime.now(timezone.utc).isoformat(),
        }

    def read_cached(self, symbol):
        """Phase 1: a 3 s TTL cache, one read in flight per symbol (request deduplication)."""
        now = time.monotonic()
        with self.cache_lock:
            hit = self.cache.get(symbol)
            if hit and now - hit[0] < 3:
                return hit[1]
            lock = self.read_locks.setdefault(symbol, threading.Lock())
        with lock:
            with self.cache_lock:
                hit = self.cache.get(symbol)
                if hit and time.monotonic() - hit[0] < 3:
                    return hit[1]
            value = self.read_latest(symbol)
            with self.cache_lock:
                self.cache[symbol] = (time.monotonic(), value)
            return value


def make_app(bridge):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        watcher = asyncio.create_task(bridge.run_watcher()) if bridge.mode == "event" else None
        yield
        if watcher:
            watcher.cancel()

    app = FastAPI(title="plan bridge", lifespan=lifespan)

    @app.get("/health")
    async def health():
        return {
            "status": "healthy",
            "mode": bridge.mode,
            "websocket_connections": sum(len(c) for c in bridge.clients.values()),
            "requests_total": bridge.requests,
            "uptime_s": round(time.time() - bridge.started, 1),
        }

    if bridge.mode == "event":

        @app.get("/api/live_data/{symbol}")
        async def live_data_event(symbol: str):
            bridge.requests += 1
            contract = bridge.folder.resolve(symbol)
            if contract is None:
                return JSONResponse({"error": f"unknown symbol {symbol}"}, status_code=404)
            state = bridge.state(contract)
            return bridge.answer(contract, state.trade, {"bid": state.bid, "ask": state.ask})

    else:
        cached = bridge.mode == "polling-cached"

        # A plain `def`: FastAPI runs it on its thread pool, as the old bridge's file reads did.
        @app.get("/api/live_data/{symbol}")
        def live_data_polling(symbol: str):
            bridge.requests += 1
            value = bridge.read_cached(symbol) if cached else bridge.read_latest(symbol)
            if value is None:
                return JSONResponse({"error": f"unknown symbol {symbol}"}, status_code=404)
            return JSONResponse(value, headers={"Connection": "close"} if cached else None)

    @app.websocket("/ws/live_data/{symbol}")
    async def market_data_stream(websocket: WebSocket, symbol: str):
        """Real-time market data streaming (Phase 2.2)."""
        contract = bridge.folder.resolve(symbol) if bridge.mode == "event" else None
        if contract is None:
            await websocket.close(code=4404)
            return
        await websocket.accept()
        clients = bridge.clients.setdefault(contract, set())
        clients.add(websocket)
        try:
            await websocket.send_text(json.dumps(bridge.state(contract).snapshot()))
            while True:
                await websocket.receive_text()  # client heartbeat
        except WebSocketDisconnect:
            pass
        finally:
            clients.discard(websocket)

    @app.get("/api/stream/dashboard")
    async def dashboard_stream(request: Request):
        """SSE stream for the dashboard, every 5 seconds (Phase 4.1)."""

        async def events():
            while True:
                if await request.is_disconnected():
                    break
                symbols = {c: s.snapshot()["data"] for c, s in bridge.states.items()}
                yield f"data: {json.dumps({'type': 'dashboard', 'symbols': symbols})}\n\n"
                await asyncio.sleep(5)

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True, help="the Sierra Chart Data folder")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mode", choices=["event", "polling-naive", "polling-cached"], default="event")
    args = parser.parse_args()
    if not os.path.isdir(args.data_dir):
        parser.error(f"--data-dir {args.data_dir} is not a folder")
    bridge = Bridge(args.data_dir, args.mode)
    limits = {"limit_concurrency": 10, "timeout_keep_alive": 1} if args.mode == "polling-cached" else {}
    uvicorn.run(make_app(bridge), host=args.host, port=args.port, log_level="warning", **limits)


if __name__ == "__main__":
    main()
