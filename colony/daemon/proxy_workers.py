"""The preview proxy's worker processes, as the daemon runs and serves them (issue 15).

The daemon binds the preview port (both loopbacks) and starts ``count`` workers
(:mod:`colony.daemon.proxy_worker`, one per core by default, ``--proxy-workers``), which all
accept on the same listening sockets; each runs as ``uid`` (a uid of the colony range kept
for it, no groups, no capabilities). Over each worker's socket pair the daemon answers:

- ``admit``: the peer limit (:class:`~colony.daemon.peers.PeerLimit`, shared by all workers)
  with the client's socket, whose owner sock_diag names; the uid is kept here for the gate;
- ``open``: :meth:`PreviewProxy.open` (routes, the gate, ``connect_in_netns``), the socket
  passed back; the route table and the gate's facts are the daemon's own, so a spawn, a rm
  or a share counts from the next connection;
- ``release`` and ``batch`` (request records, for the audit log).

A worker that exits is started again (after 1 s if it lived less than 5 s); its
connections' admissions are released. :meth:`close` ends them with the daemon; a daemon
killed with -9 takes them along (end of file on the pair, and the parent-death signal).

Example:
    >>> workers = ProxyWorkers(proxy, records.add_batch, count=2, uid=uids.last)
    >>> port = await workers.start("127.0.0.1", 7080)
    >>> await workers.close()
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from colony import host
from colony.core.routes import RequestBatch
from colony.daemon.loopback import bind_loopback
from colony.daemon.peers import BACKLOG
from colony.daemon.proxy import PreviewProxy

log = logging.getLogger("colony.daemon")
MAX_MESSAGE = 256 * 1024
RESTART_DELAY = 1.0  # a worker that lived less than QUICK_EXIT waits this long to restart
QUICK_EXIT = 5.0


class _Admitted:
    """One client connection of a worker, as the peer limit counts it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


@dataclass(eq=False)
class _Worker:
    index: int
    proc: host.Process[bytes]
    pair: socket.socket
    started: float
    conns: dict[int, _Admitted] = field(default_factory=dict)
    uids: dict[int, int | None] = field(default_factory=dict)
    opened: set[int] = field(default_factory=set)


class ProxyWorkers:
    """Runs the preview proxy's data path in ``count`` worker processes."""

    def __init__(
        self,
        proxy: PreviewProxy,
        on_batch: Callable[[RequestBatch], None],
        *,
        count: int,
        uid: int,
    ) -> None:
        self.proxy = proxy
        self.on_batch = on_batch
        self.count = count
        self.uid = uid
        self.socks: list[socket.socket] = []
        self.workers: dict[int, _Worker] = {}
        self.ids = itertools.count(1)
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False

    async def start(self, host: str, port: int) -> int:
        """Bind ``host:port`` and start the workers; the bound port."""
        self.socks = bind_loopback(host, port, BACKLOG)
        self.proxy.port = int(self.socks[0].getsockname()[1])
        for index in range(self.count):
            self._spawn(index)
        return self.proxy.port

    def _spawn(self, index: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fds = [theirs.fileno(), *(s.fileno() for s in self.socks)]
        argv = [sys.executable, "-m", "colony.daemon.proxy_worker"]
        argv += ["--control", str(theirs.fileno()), "--uid", str(self.uid)]
        argv += ["--parent", str(os.getpid()), "--domain", self.proxy.domain]
        argv += ["--idle-timeout", str(self.proxy.idle_timeout)]
        for sock in self.socks:
            argv += ["--listen", str(sock.fileno())]
        try:
            proc = host.start_helper(argv, fds)
        finally:
            theirs.close()
        ours.setblocking(False)
        worker = _Worker(index, proc, ours, time.monotonic())
        self.workers[index] = worker
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable, worker)
        log.debug("preview proxy worker %d started (pid %d)", index, proc.pid)

    def _readable(self, worker: _Worker) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(worker.pair, MAX_MESSAGE, 1)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data:
                self._ended(worker)
                return
            sock = socket.socket(fileno=fds[0]) if fds else None
            try:
                message = json.loads(data)
                self._handle(worker, message, sock)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("preview proxy worker %d: bad message: %r", worker.index, exc)
                if sock is not None:
                    sock.close()

    def _handle(self, worker: _Worker, message: dict[str, Any], sock: socket.socket | None) -> None:
        op = message["op"]
        if op == "admit":
            if sock is None:
                raise ValueError("admit without a socket")
            conn = _Admitted(sock)
            try:
                ok = self.proxy.peers.admit(conn)
                uid = self.proxy.peers.uid(conn)
            finally:
                sock.close()  # sock_diag has looked: the worker keeps the connection
            if not ok:
                page = self.proxy.refused().decode("latin-1")
                self._reply(worker, {"id": message["id"], "ok": False, "page": page})
                return
            ident = next(self.ids)
            worker.conns[ident], worker.uids[ident] = conn, uid
            self._reply(worker, {"id": message["id"], "ok": True, "conn": ident, "uid": uid})
        elif op == "release":
            ident = int(message["conn"])
            worker.uids.pop(ident, None)
            worker.opened.discard(ident)
            if ident in worker.conns:
                self.proxy.peers.release(worker.conns.pop(ident))
        elif op == "open":
            ident = int(message["conn"])
            if ident not in worker.conns or ident in worker.opened:
                raise ValueError(f"open of connection {ident}: not admitted, or opened already")
            worker.opened.add(ident)  # one upstream per client connection
            raw = str(message["head"]).encode("latin-1")
            task = asyncio.get_running_loop().create_task(
                self._open(worker, int(message["id"]), raw, worker.uids[ident])
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif op == "batch":
            self.on_batch(RequestBatch.of_json(message["batch"]))
        else:
            raise ValueError(f"unknown op {op!r}")

    async def _open(self, worker: _Worker, ident: int, raw: bytes, uid: int | None) -> None:
        try:
            upstream, sock, answer = await self.proxy.open(None, raw, uid)
        except Exception as exc:  # a head the worker should not have sent: no route
            log.warning("preview proxy worker %d: open failed: %r", worker.index, exc)
            upstream, sock, answer = None, None, None
        up = None if upstream is None else [upstream.colony, upstream.port, upstream.service]
        page = None if answer is None else answer.decode("latin-1")
        reply: dict[str, Any] = {"id": ident, "upstream": up, "answer": page}
        try:
            self._reply(worker, reply, sock)
        finally:
            if sock is not None:
                sock.close()

    def _reply(
        self, worker: _Worker, message: dict[str, Any], sock: socket.socket | None = None
    ) -> None:
        data = json.dumps(message).encode()
        try:
            if sock is None:
                worker.pair.send(data)
            else:
                socket.send_fds(worker.pair, [data], [sock.fileno()])
        except BlockingIOError:
            log.warning("preview proxy worker %d: not reading its answers", worker.index)
        except OSError:
            pass  # it exited: _ended follows

    def _ended(self, worker: _Worker) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(worker.pair.fileno())
        worker.pair.close()
        for conn in worker.conns.values():
            self.proxy.peers.release(conn)
        worker.conns.clear()
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if self.closing:
            return
        code = worker.proc.poll()
        log.warning("preview proxy worker %d exited (%s); starting it again", worker.index, code)
        quick = time.monotonic() - worker.started < QUICK_EXIT
        task = loop.create_task(self._restart(worker, RESTART_DELAY if quick else 0.0))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _restart(self, worker: _Worker, delay: float) -> None:
        await asyncio.to_thread(worker.proc.wait)
        await asyncio.sleep(delay)
        if not self.closing:
            self._spawn(worker.index)

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers.values()]

    async def close(self) -> None:
        """Stop the workers (their connections end) and the listening sockets."""
        self.closing = True
        workers = list(self.workers.values())
        for worker in workers:
            self._ended(worker)  # end of file: the worker closes and exits
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

        def reap(proc: host.Process[bytes]) -> None:
            try:
                proc.wait(5)
            except host.TimeoutExpired:
                proc.kill()
                proc.wait()

        await asyncio.gather(*(asyncio.to_thread(reap, w.proc) for w in workers))
        for sock in self.socks:
            sock.close()
        self.socks = []


__all__ = ["ProxyWorkers"]
