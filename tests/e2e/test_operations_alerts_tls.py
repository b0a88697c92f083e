"""Issue 19: failure alerts through a mail server like a real one: STARTTLS required, then
AUTH required, with a certificate from a test CA that only FUNNEL_ALERT_SMTP_CA_FILE trusts.

The server is aiosmtpd on 127.0.0.1 (`require_starttls`, `auth_required`,
`auth_require_tls`); the CA and the server certificate (SAN 127.0.0.1 and localhost)
are made here with `cryptography`. Proven: a failed run's alert arrives, over TLS,
after a successful login; the certificate is verified (without the CA file the send
fails, and so does a host name the certificate does not name); a wrong password fails;
the password is never sent in plain text; implicit TLS (SMTPS) works too.
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import smtplib
import socket
import ssl
from email import policy
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from funnel_pipeline.operations import alerts
from funnel_pipeline.settings import Settings

USER, PASSWORD = "dagster-alerts", "s3cret-Passw0rd"


def _make_ca_and_server_cert(folder: Path, names: tuple[str, ...] = ("localhost", "127.0.0.1"),
                             ) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a CA and a server certificate it signed for `names`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "funnel test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def _general_name(name: str):
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class _Mailbox:
    """aiosmtpd handler: keeps what arrived, with whether it came over TLS and logged in."""

    def __init__(self) -> None:
        self.received: list[dict] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        # the transport in use now: the TLS one after STARTTLS, or SMTPS from the start
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.received.append({"from": envelope.mail_from, "rcpt": list(envelope.rcpt_tos),
                              "data": envelope.content, "tls": tls,
                              "authenticated": session.authenticated})
        return "250 OK queued"


def _authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> tuple[Path, ssl.SSLContext]:
    ca, cert, key = _make_ca_and_server_cert(tmp_path_factory.mktemp("tls"))
    return ca, _server_context(cert, key)


def _serve(server_context: ssl.SSLContext, implicit_tls: bool):
    mailbox = _Mailbox()
    # aiosmtpd counts only STARTTLS as TLS for `auth_require_tls`; over implicit TLS
    # every byte is encrypted anyway
    options = ({"ssl_context": server_context, "auth_require_tls": False} if implicit_tls
               else {"tls_context": server_context, "require_starttls": True,
                     "auth_require_tls": True})
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port(),
                            auth_required=True, authenticator=_authenticator, **options)
    controller.start()
    return controller, mailbox


@pytest.fixture
def starttls_server(certificates):
    controller, mailbox = _serve(certificates[1], implicit_tls=False)
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


def _settings(port: int, ca: Path | None, **overrides) -> Settings:
    values = {"alert_smtp_host": "127.0.0.1", "alert_smtp_port": port,
              "alert_smtp_from": "dagster@funnel.test", "alert_smtp_to": "oncall@funnel.test",
              "alert_smtp_starttls": True, "alert_smtp_user": USER,
              "alert_smtp_password": PASSWORD, "alert_smtp_ca_file": str(ca) if ca else "",
              **overrides}
    return Settings(**values)


ALERT = {"run_id": "0f" * 18, "job_name": "nightly", "failed_steps": [], "run_error": "x",
         "ui_url": "http://127.0.0.1:3000/runs/0f"}


def test_a_failed_runs_alert_arrives_over_starttls_after_login(dagster_home, certificates,
                                                               starttls_server):
    port, mailbox = starttls_server
    settings = _settings(port, certificates[0])

    @dg.op
    def breaks() -> None:
        raise RuntimeError("the mail server test step failed")

    @dg.job(executor_def=dg.in_process_executor)
    def mailed():
        breaks()

    instance = dg.DagsterInstance.get()
    failed = mailed.execute_in_process(instance=instance, raise_on_error=False)
    context = dg.build_run_status_sensor_context(
        sensor_name="failure_alerts", dagster_event=failed.get_run_failure_event(),
        dagster_instance=instance, dagster_run=failed.dagster_run).for_run_failure()
    alerts.failure_alert_sensor(settings)(context)

    [mail] = mailbox.received
    assert mail["tls"] and mail["authenticated"]
    assert mail["from"] == "dagster@funnel.test" and mail["rcpt"] == ["oncall@funnel.test"]
    message = email.message_from_bytes(mail["data"], policy=policy.default)
    assert failed.dagster_run.run_id in message.get_content()
    assert "step breaks: RuntimeError: the mail server test step failed" in message.get_content()


def test_the_certificate_is_verified(certificates, starttls_server, tmp_path):
    port, mailbox = starttls_server
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        alerts.send_email(_settings(port, None), ALERT)          # system CAs only
    # a certificate from the trusted CA, but for another name than the one connected to
    ca, cert, key = _make_ca_and_server_cert(tmp_path / "other", names=("mail.example.test",))
    controller, other = _serve(_server_context(cert, key), implicit_tls=False)
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
            alerts.send_email(_settings(controller.port, ca), ALERT)
    finally:
        controller.stop()
    assert mailbox.received == [] and other.received == []


def test_a_wrong_password_fails(certificates, starttls_server):
    port, mailbox = starttls_server
    with pytest.raises(smtplib.SMTPAuthenticationError):
        alerts.send_email(_settings(port, certificates[0], alert_smtp_password="wrong"), ALERT)
    assert mailbox.received == []


def test_the_password_is_never_sent_in_plain_text(certificates, starttls_server):
    port, mailbox = starttls_server
    with pytest.raises(RuntimeError, match="refusing to send the SMTP password unencrypted"):
        alerts.send_email(_settings(port, certificates[0], alert_smtp_starttls=False), ALERT)
    # and this server refuses mail without STARTTLS and login, as real submission servers do
    with pytest.raises(smtplib.SMTPException):
        alerts.send_email(_settings(port, None, alert_smtp_starttls=False, alert_smtp_user=""),
                          ALERT)
    assert mailbox.received == []


# aiosmtpd warns whenever auth_require_tls is off, which implicit TLS needs (see _serve):
# every byte of this session, AUTH included, is inside TLS (the test asserts mail["tls"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_smtps(certificates):
    controller, mailbox = _serve(certificates[1], implicit_tls=True)
    try:
        settings = _settings(controller.port, certificates[0], alert_smtp_starttls=False,
                             alert_smtp_ssl=True)
        assert alerts.send_alert(settings, ALERT) == {"email": "sent"}
    finally:
        controller.stop()
    [mail] = mailbox.received
    assert mail["tls"] and mail["authenticated"]
