"""A throwaway CA and server certificate for the simulator's HTTPS listener.

NovaLink ships a self-signed certificate; clients either pin it
(pypowervm's ``certpath``: ``<certpath><host with : and . as _><certext>``)
or trust a CA. Tests and ``lpar-eventd-sim --https-port`` without ``--cert``
generate both here, so the two client paths can be exercised for real.

    files = make_test_pki(tmp_path)      # TlsFiles(ca=..., cert=..., key=...)
    SimConfig(https_port=0, certfile=str(files.cert), keyfile=str(files.key))
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TlsFiles", "make_test_pki", "pin_file_name"]


@dataclass(frozen=True)
class TlsFiles:
    ca: Path        # PEM CA certificate (what a client trusts)
    cert: Path      # PEM server certificate
    key: Path       # PEM server key (unencrypted)
    directory: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey,
          signer: ec.EllipticCurvePrivateKey, ca: bool,
          sans: Sequence[x509.GeneralName] = ()) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = (builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False))
    else:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(signer, hashes.SHA256())


def make_test_pki(directory: Path, hosts: Sequence[str] = ("localhost", "127.0.0.1")
                  ) -> TlsFiles:
    """Write ca.pem, server.pem and server.key into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("lpar-eventd-sim test CA", "lpar-eventd-sim test CA", ca_key, ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [_san(h) for h in hosts]
    cert = _cert(hosts[0], "lpar-eventd-sim test CA", key, ca_key, False, sans)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem",
                     directory / "server.key", directory)
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    files.key.chmod(0o600)
    return files


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def pin_file_name(host: str, certext: str = ".crt") -> str:
    """The file name pypowervm looks for under ``certpath`` to pin ``host``."""
    return host.replace(":", "_").replace(".", "_") + certext
