"""The lab CA: a private certificate authority that signs every endpoint's certificate.

`winlab up --https` creates <state dir>/tls/ once (kept across down/up, so a
client that trusts ca.pem keeps trusting the lab) and serves every endpoint
over TLS with a certificate for the bind address. The inventory then asks for
certificate validation against ca.pem, as production inventories should.
"""

from __future__ import annotations

import datetime
import ipaddress
import pathlib
import ssl

from .state import atomic_write

CA_NAME = "winlab lab CA (test only)"


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(subject: str, key, issuer_name, issuer_key, *, ca: bool, sans=(), days=825):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _san_for(address: str):
    from cryptography import x509
    try:
        return x509.IPAddress(ipaddress.ip_address(address))
    except ValueError:
        return x509.DNSName(address)


class LabCA:
    """ca.pem / ca.key and server.pem / server.key under <state dir>/tls."""

    def __init__(self, state_root: pathlib.Path):
        self.dir = state_root / "tls"
        self.ca_pem, self.ca_key = self.dir / "ca.pem", self.dir / "ca.key"
        self.server_pem, self.server_key = self.dir / "server.pem", self.dir / "server.key"

    def ensure(self, bind: str) -> None:
        """Create the CA once; (re)issue the server certificate when the bind address is new."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.ca_pem.exists() and self.ca_key.exists()):
            key = _key()
            cert = _certificate(CA_NAME, key, None, key, ca=True, days=3650)
            atomic_write(self.ca_key, _pem_key(key), mode=0o600)
            atomic_write(self.ca_pem, cert.public_bytes(serialization.Encoding.PEM))
            self.server_pem.unlink(missing_ok=True)
        if self.server_pem.exists() and self._covers(bind):
            return
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(self.ca_pem.read_bytes())
        key = _key()
        sans = {_san_for(bind), _san_for("127.0.0.1"), _san_for("localhost")}
        cert = _certificate(f"winlab endpoint {bind}", key, ca_cert.subject, ca_key, ca=False, sans=sans)
        atomic_write(self.server_key, _pem_key(key), mode=0o600)
        atomic_write(self.server_pem, cert.public_bytes(serialization.Encoding.PEM))

    def _covers(self, bind: str) -> bool:
        from cryptography import x509
        cert = x509.load_pem_x509_certificate(self.server_pem.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return _san_for(bind) in list(names)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server_pem, self.server_key)
        return context
