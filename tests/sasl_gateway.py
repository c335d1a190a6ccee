"""A SASL terminator in front of the embedded broker, because the bundled Tansu cannot
authenticate anyone (findings in tests/secured_broker.py).

Per client connection it does what a Kafka broker's SASL listener does before any other
request: ApiVersions is answered (by the broker behind, relayed unchanged), SaslHandshake
v1 picks a mechanism, SaslAuthenticate v0/v1 carries the exchange. PLAIN compares the user
and password; SCRAM-SHA-256/512 runs the RFC 5802/7677 server side of `scramp` (a
maintained implementation, not ours) against credentials made with 4096 iterations. A
failed exchange answers error 58 (SASL_AUTHENTICATION_FAILED) as Kafka does and closes;
any other request before authentication closes the connection, as Kafka does. Once
authenticated, bytes are piped both ways to the broker untouched.

It runs an asyncio loop in a daemon thread so that tests can use it from synchronous code.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Callable

from scramp import ScramException, ScramMechanism

__all__ = ["SaslGateway"]

_API_VERSIONS, _SASL_HANDSHAKE, _SASL_AUTHENTICATE = 18, 17, 36
_UNSUPPORTED_SASL_MECHANISM, _SASL_AUTHENTICATION_FAILED = 33, 58
_SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")


def _string(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def _write_frame(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(struct.pack(">i", len(body)) + body)


def _body_offset(frame: bytes) -> int:
    """Where the body starts after a v1 request header (key, version, id, client id)."""
    (client_id_len,) = struct.unpack(">h", frame[8:10])
    return 10 + max(client_id_len, 0)


class _Exchange:
    """One connection's SASL state: the chosen mechanism and, for SCRAM, its server."""

    def __init__(self, mechanism: str, users: dict[str, str], auth: dict[str, Callable]):
        self.mechanism = mechanism
        self._users = users
        self._scram = (
            ScramMechanism(mechanism).make_server(auth[mechanism]) if mechanism in _SCRAM else None
        )
        self._step = 0

    def step(self, token: bytes) -> tuple[bytes, bool]:
        """Answer one client token; returns (server token, finished). Raises ValueError."""
        if self._scram is None:  # PLAIN: authzid NUL user NUL password
            _, user, password = token.decode().split("\0")
            if self._users.get(user) != password:
                raise ValueError("bad PLAIN credentials")
            return b"", True
        self._step += 1
        if self._step == 1:
            self._scram.set_client_first(token.decode())
            return self._scram.get_server_first().encode(), False
        self._scram.set_client_final(token.decode())
        return self._scram.get_server_final().encode(), True


class SaslGateway:
    """Listens on 127.0.0.1:`port`; authenticated connections are piped to `upstream`."""

    def __init__(
        self, port: int, upstream: tuple[str, int], users: dict[str, str], mechanisms: list[str]
    ) -> None:
        self.port, self.upstream, self.users, self.mechanisms = port, upstream, users, mechanisms
        self._auth = {m: self._auth_fn(ScramMechanism(m)) for m in _SCRAM}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sasl-gateway")
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.rejected = 0  # failed authentications, for tests to assert on

    def _auth_fn(self, mechanism: ScramMechanism) -> Callable:
        info = {user: mechanism.make_auth_info(pw, 4096) for user, pw in self.users.items()}

        def lookup(username: str) -> tuple:
            if username not in info:
                raise ScramException("unknown user")
            return info[username]

        return lookup

    def start(self) -> SaslGateway:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("SASL gateway did not start")
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._server is not None:
                await self._server.wait_closed()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def listen() -> None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
            self._ready.set()

        self._loop.run_until_complete(listen())
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            if await self._authenticate(reader, writer, up_reader, up_writer):
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    w.close()
            self._tasks.discard(task)

    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        exchange: _Exchange | None = None
        while True:
            frame = await _read_frame(reader)
            api_key, version, correlation = struct.unpack(">hhi", frame[:8])
            head = struct.pack(">i", correlation)
            if api_key == _API_VERSIONS:
                _write_frame(up_writer, frame)
                _write_frame(writer, await _read_frame(up_reader))
            elif api_key == _SASL_HANDSHAKE and version == 1:
                start = _body_offset(frame)
                (length,) = struct.unpack(">h", frame[start : start + 2])
                mechanism = frame[start + 2 : start + 2 + length].decode()
                ok = mechanism in self.mechanisms
                error = 0 if ok else _UNSUPPORTED_SASL_MECHANISM
                listed = b"".join(_string(m) for m in self.mechanisms)
                body = struct.pack(">hi", error, len(self.mechanisms)) + listed
                _write_frame(writer, head + body)
                if not ok:
                    return False
                exchange = _Exchange(mechanism, self.users, self._auth)
            elif api_key == _SASL_AUTHENTICATE and exchange is not None and version <= 1:
                start = _body_offset(frame)
                (length,) = struct.unpack(">i", frame[start : start + 4])
                token = frame[start + 4 : start + 4 + length]
                try:
                    answer, done = exchange.step(token)
                except (ScramException, ValueError, UnicodeDecodeError):
                    self.rejected += 1
                    message = f"Authentication failed: invalid credentials ({exchange.mechanism})"
                    body = struct.pack(">h", _SASL_AUTHENTICATION_FAILED) + _string(message)
                    body += struct.pack(">i", 0) + (struct.pack(">q", 0) if version else b"")
                    _write_frame(writer, head + body)
                    await writer.drain()
                    return False
                body = struct.pack(">h", 0) + _string(None)
                body += struct.pack(">i", len(answer)) + answer
                body += struct.pack(">q", 3_600_000) if version else b""
                _write_frame(writer, head + body)
                if done:
                    await writer.drain()
                    return True
            else:  # anything else before authentication: Kafka closes the connection
                return False
            await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()
