"""A token server for the registry's ``auth: token`` mode (the Docker token authentication spec).

It checks Basic credentials, grants the requested scopes to known users, and signs ES256 JWTs
with a key whose certificate the registry trusts (``rootcertbundle``). Its POST takes OAuth2's refresh
grant as distribution's docs/spec/auth/oauth.md gives it (`docker login`'s identity tokens).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .registry import free_port


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key id distribution expects in a token's ``kid`` header (libtrust's format)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


class TokenServer:
    SERVICE = "tcs-test-registry"
    ISSUER = "tcs-test-token-issuer"

    def __init__(self, workdir: Path, users: dict[str, str], *, lifetime: int = 300, clock_skew: int = 0) -> None:
        self.users = users
        self.refresh_tokens: dict[str, str] = {}  # identity token -> the account it stands for
        self.lifetime = lifetime
        self.clock_skew = clock_skew  # seconds added to the issued_at it reports (a server with a wrong clock)
        self.requests: list[dict[str, Any]] = []  # what was asked: account and scopes, never passwords
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tcs test token signer")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        workdir.mkdir(parents=True, exist_ok=True)
        self.cert_path = workdir / "token-signer.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.kid = libtrust_key_id(self.key.public_key())
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def registry_auth(self) -> dict[str, Any]:
        """The registry config's ``auth`` section for this server."""
        return {
            "token": {
                "realm": self.realm,
                "service": self.SERVICE,
                "issuer": self.ISSUER,
                "rootcertbundle": str(self.cert_path),
            }
        }

    def issue(self, account: str, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": self.ISSUER,
            "sub": account,
            "aud": self.SERVICE,
            "exp": now + self.lifetime,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                account = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users.get(user) != password:
                        self._answer(401, {"details": "invalid username or password"})
                        return
                    account = user
                scopes = query.get("scope", []) if account else []
                server.requests.append({"account": account, "scopes": query.get("scope", [])})
                token = server.issue(account or "", scopes)
                self._answer(
                    200,
                    {
                        "token": token,
                        "access_token": token,
                        "expires_in": server.lifetime,
                        "issued_at": (datetime.now(UTC) + timedelta(seconds=server.clock_skew)).isoformat(),
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if form.get("grant_type") != "refresh_token" or not form.get("client_id"):  # (both REQUIRED)
                    self._answer(400, {"error": "invalid_request"})
                    return
                account = server.refresh_tokens.get(form.get("refresh_token", ""))
                if account is None:  # RFC 6749 section 5.2: a refresh token not issued here
                    self._answer(400, {"error": "invalid_grant"})
                    return
                scopes = form.get("scope", "").split()  # a scope list: one field, space-separated
                server.requests.append({"account": account, "scopes": scopes, "grant": "refresh_token"})
                token = server.issue(account, scopes)
                self._answer(200, {"access_token": token, "expires_in": server.lifetime, "scope": " ".join(scopes)})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def start(self) -> TokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
