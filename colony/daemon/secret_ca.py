"""Each colony's certificate authority (issue 17): the egress gate presents a certificate of
it for a secret's hosts, so it can put the secret in the request; nothing else trusts it.

The CA's key stays in the secrets folder (root's, 0700; the key 0600). Its certificate goes
into a bundle (the host's CAs + the colony's CA) at ``colonies/<name>/etc/ca-bundle.pem``,
root's, which the colony's view binds read-only at :data:`BUNDLE_IN_VIEW`; the colony's
``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS`` and ``GIT_SSL_CAINFO``
name it. Colony B's bundle has B's CA only: A's certificates do not verify there.

Example:
    >>> cas = ColonyCAs(paths)  # doctest: +SKIP
    >>> cas.ensure("web")  # the bundle's host path  # doctest: +SKIP
    >>> ctx = cas.server_context("web", "api.anthropic.com")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import os
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from colony.core.mounts import CA_BUNDLE
from colony.daemon.paths import Paths

BUNDLE_IN_VIEW = CA_BUNDLE
CA_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO")
SYSTEM_BUNDLE = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
LEAF_DAYS = 30


CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def ca_bundle_path(paths: Paths, colony: str) -> Path:
    """The host path of a colony's CA bundle (root's directory; the colony reads it only
    through its view, read-only)."""
    return paths.colony(colony) / "etc" / "ca-bundle.pem"


def ca_env(bundle: str) -> dict[str, str]:
    """The variables that make TLS clients inside the colony trust ``bundle``."""
    return dict.fromkeys(CA_ENV, bundle)


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(colony: str) -> tuple[bytes, bytes]:
    """A new CA for ``colony``: (key PEM, certificate PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = _name(f"Colony secrets CA of {colony}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return _pem_key(key), cert.public_bytes(serialization.Encoding.PEM)


def make_leaf(ca_key_pem: bytes, ca_pem: bytes, host: str) -> tuple[bytes, bytes]:
    """A certificate for ``host`` signed by the CA: (key PEM, certificate PEM)."""
    ca_key = serialization.load_pem_private_key(ca_key_pem, None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate(ca_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _pem_key(key), cert.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class ColonyCAs:
    """The CAs of the colonies with secrets, and the gate's TLS contexts made from them."""

    def __init__(self, paths: Paths, system_bundle: str = SYSTEM_BUNDLE) -> None:
        self.paths = paths
        self.system_bundle = system_bundle
        self._contexts: dict[tuple[str, str], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def _key(self, colony: str) -> Path:
        return self.paths.secrets / f"{colony}.ca.key"

    def _cert(self, colony: str) -> Path:
        return self.paths.secrets / f"{colony}.ca.pem"

    def bundle(self, colony: str) -> Path:
        """The host path of the colony's bundle (root's; bound read-only in its view)."""
        return ca_bundle_path(self.paths, colony)

    def ensure(self, colony: str) -> Path:
        """Make the colony's CA and bundle if missing; returns the bundle's host path."""
        with self._lock:
            key, cert = self._key(colony), self._cert(colony)
            if not (key.exists() and cert.exists()):
                self.paths.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
                key_pem, cert_pem = make_ca(colony)
                _write_private(key, key_pem)
                _write_private(cert, cert_pem)
            bundle = self.bundle(colony)
            if not bundle.exists():
                try:
                    system = Path(self.system_bundle).read_bytes()
                except OSError:
                    system = b""
                bundle.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                text = system.rstrip(b"\n") + b"\n" + cert.read_bytes()
                tmp = bundle.with_name(".ca-bundle.tmp")
                tmp.unlink(missing_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                os.fchmod(fd, 0o644)  # whatever the daemon's umask: colonies read it
                with os.fdopen(fd, "wb") as f:
                    f.write(text)
                os.replace(tmp, bundle)
            return bundle

    def server_context(self, colony: str, host: str) -> ssl.SSLContext:
        """A TLS server context presenting a certificate for ``host`` by the colony's CA,
        speaking HTTP/1.1 only (the gate reads each request head)."""
        with self._lock:
            ctx = self._contexts.get((colony, host))
        if ctx is not None:
            return ctx
        self.ensure(colony)
        key_pem, cert_pem = make_leaf(
            self._key(colony).read_bytes(), self._cert(colony).read_bytes(), host
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.set_alpn_protocols(["http/1.1"])
        with tempfile.NamedTemporaryFile(dir=self.paths.secrets, suffix=".pem") as f:
            f.write(key_pem + cert_pem)
            f.flush()
            ctx.load_cert_chain(f.name)
        with self._lock:
            if len(self._contexts) > 4096:
                self._contexts.clear()
            self._contexts[(colony, host)] = ctx
        return ctx

    def forget(self, colony: str) -> None:
        with self._lock:
            for k in [k for k in self._contexts if k[0] == colony]:
                del self._contexts[k]
            self._key(colony).unlink(missing_ok=True)
            self._cert(colony).unlink(missing_ok=True)
