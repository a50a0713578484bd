"""The district's own certificate authority, and the broker's certificate it signs.

Probes talk to the hub's broker over TLS and must know they reach the
district's broker and nobody else's: each probe carries the district CA's
certificate (in its provisioning bundle) and checks the broker's certificate
against it. The CA is the district's own, made once on the hub; no public CA
is involved (a commune's box must not depend on one, and the hub may have no
public name). Keys are EC P-256 (small, fast on a Pi, accepted by mosquitto's
OpenSSL); private keys are written with mode 0600 and never printed.

Uses ``cryptography`` (the hub extra): the well-kept library for X.509 in
Python, instead of driving the openssl command line.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 20  # a box in a commune hall may run for a decade without a visit
SERVER_YEARS = 10


@dataclass(frozen=True)
class CertPaths:
    cert: Path
    key: Path


def write_private(path: Path, data: bytes) -> None:
    """A secret's file, readable by its owner only from the moment it exists (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    write_private(
        path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])  # fmt: skip


def make_ca(folder: Path, org: str = "roomprobe district") -> CertPaths:
    """A new CA in ``folder`` (ca.crt, ca.key). Refuses to overwrite an existing one."""
    paths = CertPaths(folder / "ca.crt", folder / "ca.key")
    if paths.cert.exists() or paths.key.exists():
        raise FileExistsError(f"{folder} already holds a CA; a new one would orphan every probe")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(f"{org} CA", org)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    _write_key(paths.key, key)
    _write_cert(paths.cert, cert)
    return paths


def _load_ca(ca: CertPaths) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca.key} is not an EC key made by roomhub")
    return cert, key


def make_server_cert(ca: CertPaths, folder: Path, hostnames: list[str]) -> CertPaths:
    """The broker's certificate for ``hostnames`` (names or IP addresses), signed by the CA."""
    if not hostnames:
        raise ValueError("the broker's certificate needs at least one host name or address")
    ca_cert, ca_key = _load_ca(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for h in hostnames:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt.append(x509.DNSName(h))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            _name(
                hostnames[0],
                ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value,
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365 * SERVER_YEARS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = CertPaths(folder / "broker.crt", folder / "broker.key")
    _write_key(paths.key, key)
    _write_cert(paths.cert, cert)
    return paths
