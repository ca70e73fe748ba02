"""Kafka security settings from the environment (TLS, SASL PLAIN and SCRAM)."""
from __future__ import annotations

import socket
import ssl
import threading

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from streams.config import Settings, SettingsError


def _settings(monkeypatch, **env):
    for name in ("KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL",
                 "KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_plaintext_by_default(monkeypatch):
    assert _settings(monkeypatch).client_options() == {"security_protocol": "PLAINTEXT"}


def test_tls(monkeypatch):
    options = _settings(monkeypatch, KAFKA_SSL="true").client_options()
    assert options["security_protocol"] == "SSL" and isinstance(options["ssl_context"], ssl.SSLContext)


@pytest.mark.parametrize("mechanism, tls, protocol", [
    ("PLAIN", "false", "SASL_PLAINTEXT"), ("SCRAM-SHA-256", "true", "SASL_SSL"), ("SCRAM-SHA-512", "true", "SASL_SSL"),
])
def test_sasl(monkeypatch, mechanism, tls, protocol):
    options = _settings(monkeypatch, KAFKA_SASL_MECHANISM=mechanism, KAFKA_SASL_USERNAME="svc",
                        KAFKA_SASL_PASSWORD="s3cret", KAFKA_SSL=tls).client_options()
    assert (options["security_protocol"], options["sasl_mechanism"], options["sasl_plain_username"],
            options["sasl_plain_password"]) == (protocol, mechanism, "svc", "s3cret")


def test_the_password_is_not_in_the_settings_repr(monkeypatch):
    settings = _settings(monkeypatch, KAFKA_SASL_MECHANISM="PLAIN", KAFKA_SASL_USERNAME="svc", KAFKA_SASL_PASSWORD="s3cret")
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize("env, message", [
    ({"KAFKA_SASL_MECHANISM": "GSSAPI", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SASL_MECHANISM"),
    ({"KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SASL_USERNAME"),
    ({"KAFKA_SSL_KEYFILE": "client.key"}, "KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE"),
    ({"KAFKA_SSL": "true", "KAFKA_SSL_KEYFILE": "client.key"}, "KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE"),
    ({"KAFKA_SSL": "true", "KAFKA_SSL_KEY_PASSWORD": "secret"}, "KAFKA_SSL_KEY_PASSWORD needs KAFKA_SSL_CERTFILE"),
])
def test_bad_security_settings_are_refused_by_name(monkeypatch, env, message):
    with pytest.raises(ValueError, match=message):
        _settings(monkeypatch, **env)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A CA, and PEM files: its certificate; a client's certificate from it
    and the client's key, apart and in one file, and encrypted; the key of
    another CA's certificate; a text that holds no PEM at all."""
    ca, folder = trustme.CA(), tmp_path_factory.mktemp("tls")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    client = ca.issue_cert("client.example")
    client.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
    client.private_key_pem.write_to_path(str(folder / "client.key"))
    client.private_key_and_cert_chain_pem.write_to_path(str(folder / "client-and-key.pem"))
    other = trustme.CA().issue_cert("other.example")
    other.private_key_pem.write_to_path(str(folder / "other.key"))
    (folder / "encrypted.key").write_bytes(serialization.load_pem_private_key(client.private_key_pem.bytes(), None)
                                           .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.BestAvailableEncryption(b"secret")))
    (folder / "text.pem").write_text("not a certificate\n")
    return ca, folder


@pytest.mark.parametrize("key, password", [("client.key", None), (None, None),  # None: in the certificate's file
                                           ("encrypted.key", "secret")])
def test_mutual_tls_trusts_the_ca_file_and_presents_the_client_certificate(monkeypatch, tls, key, password):
    """A TLS handshake with a broker that requires a client certificate from
    the CA, over a socket pair: the context trusts the CA file's broker
    certificate and presents the client's."""
    ca, folder = tls
    env = {"KAFKA_SSL_CAFILE": str(folder / "ca.pem"), "KAFKA_SSL_CERTFILE": str(folder / "client.pem")}
    if key is None:
        env["KAFKA_SSL_CERTFILE"] = str(folder / "client-and-key.pem")
    else:
        env["KAFKA_SSL_KEYFILE"] = str(folder / key)
    if password is not None:
        env["KAFKA_SSL_KEY_PASSWORD"] = password
    client_context = _settings(monkeypatch, **env).client_options()["ssl_context"]
    broker_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("broker.example").configure_cert(broker_context)
    ca.configure_trust(broker_context)
    broker_context.verify_mode = ssl.CERT_REQUIRED
    client_end, broker_end = socket.socketpair()
    seen = []

    def broker():
        with broker_context.wrap_socket(broker_end, server_side=True) as tls_end:
            seen.append(tls_end.getpeercert()["subjectAltName"])

    thread = threading.Thread(target=broker)
    thread.start()
    with client_context.wrap_socket(client_end, server_hostname="broker.example") as tls_end:
        assert tls_end.getpeercert()["subjectAltName"] == (("DNS", "broker.example"),)
    thread.join(10)
    assert seen == [(("DNS", "client.example"),)]  # the client's certificate, verified by the broker


@pytest.mark.parametrize("env, message", [
    ({"KAFKA_SSL_CAFILE": "missing.pem"}, "KAFKA_SSL_CAFILE '{folder}/missing.pem' cannot be read: No such file"),
    ({"KAFKA_SSL_CAFILE": "."}, "KAFKA_SSL_CAFILE '{folder}' cannot be read: Is a directory"),
    ({"KAFKA_SSL_CAFILE": "text.pem"}, "KAFKA_SSL_CAFILE '{folder}/text.pem' holds no PEM certificate"),
    ({"KAFKA_SSL_CERTFILE": "client.pem", "KAFKA_SSL_KEYFILE": "missing.key"},
     "KAFKA_SSL_KEYFILE '{folder}/missing.key' cannot be read: No such file"),
    ({"KAFKA_SSL_CERTFILE": "text.pem", "KAFKA_SSL_KEYFILE": "client.key"},
     "KAFKA_SSL_CERTFILE '{folder}/text.pem' and KAFKA_SSL_KEYFILE '{folder}/client.key' are not a PEM client "
     "certificate and its unencrypted private key"),
    ({"KAFKA_SSL_CERTFILE": "client.pem", "KAFKA_SSL_KEYFILE": "other.key"},
     "KAFKA_SSL_CERTFILE '{folder}/client.pem' and KAFKA_SSL_KEYFILE '{folder}/other.key' are not"),
    ({"KAFKA_SSL_CERTFILE": "client.pem", "KAFKA_SSL_KEYFILE": "encrypted.key"},
     "KAFKA_SSL_CERTFILE '{folder}/client.pem' and KAFKA_SSL_KEYFILE '{folder}/encrypted.key' are not a PEM client "
     "certificate and its unencrypted private key (an encrypted one needs KAFKA_SSL_KEY_PASSWORD)"),
    ({"KAFKA_SSL_CERTFILE": "client.pem", "KAFKA_SSL_KEYFILE": "encrypted.key", "KAFKA_SSL_KEY_PASSWORD": "wrong"},
     "KAFKA_SSL_CERTFILE '{folder}/client.pem' and KAFKA_SSL_KEYFILE '{folder}/encrypted.key' are not a PEM client "
     "certificate and its private key, encrypted with KAFKA_SSL_KEY_PASSWORD"),
    ({"KAFKA_SSL_CERTFILE": "client.pem"},
     "KAFKA_SSL_CERTFILE '{folder}/client.pem' and the private key it should hold (KAFKA_SSL_KEYFILE is not set)"),
])
def test_a_tls_file_that_cannot_be_used_is_refused_by_name_before_a_connection(monkeypatch, tls, env, message):
    folder = tls[1]
    settings = _settings(monkeypatch, **{name: str(folder / value) if name.endswith("FILE") else value
                                         for name, value in env.items()})
    with pytest.raises(SettingsError) as refused:
        settings.client_options()
    assert str(refused.value).startswith(message.format(folder=folder)), refused.value


def test_fetch_max_wait_is_short_by_default_and_settable(monkeypatch):
    monkeypatch.delenv("FETCH_MAX_WAIT_MS", raising=False)
    assert Settings().fetch_max_wait_ms == 50  # Faust's own 1500 ms is added to every event's latency on Tansu
    monkeypatch.setenv("FETCH_MAX_WAIT_MS", "200")
    assert Settings().fetch_max_wait_ms == 200


def test_a_negative_fetch_wait_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("FETCH_MAX_WAIT_MS", "-1")
    with pytest.raises(ValueError, match="FETCH_MAX_WAIT_MS"):
        Settings()


def test_a_backlog_commits_every_thirty_seconds_by_default_and_settable(monkeypatch):
    monkeypatch.delenv("BACKLOG_COMMIT_INTERVAL", raising=False)
    assert Settings().backlog_commit_interval == 30.0
    monkeypatch.setenv("BACKLOG_COMMIT_INTERVAL", "10")
    assert Settings().backlog_commit_interval == 10.0


@pytest.mark.parametrize("name", ["SCORECARD_INTERVAL", "COMMIT_INTERVAL", "BACKLOG_COMMIT_INTERVAL",
                                  "BROKER_REBALANCE_TIMEOUT", "BROKER_SESSION_TIMEOUT", "BROKER_HEARTBEAT_INTERVAL"])
@pytest.mark.parametrize("seconds", ["0", "-5"])
def test_an_interval_or_timeout_of_zero_seconds_or_less_is_refused_by_name(monkeypatch, name, seconds):
    monkeypatch.setenv(name, seconds)
    with pytest.raises(ValueError, match=f"{name} must be more than 0 seconds"):
        Settings()


def test_a_heartbeat_interval_as_long_as_the_session_timeout_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("BROKER_SESSION_TIMEOUT", "6")
    monkeypatch.setenv("BROKER_HEARTBEAT_INTERVAL", "6")
    with pytest.raises(ValueError, match="BROKER_HEARTBEAT_INTERVAL must be shorter than BROKER_SESSION_TIMEOUT"):
        Settings()


@pytest.mark.parametrize("port", ["0", "-1", "65536", "99999"])
def test_a_web_port_outside_1_to_65535_is_refused_by_name(monkeypatch, port):
    monkeypatch.setenv("WEB_PORT", port)
    with pytest.raises(ValueError, match=f"WEB_PORT must be a port from 1 to 65535, got {port}"):
        Settings()


@pytest.mark.parametrize("port", ["1", "65535"])
def test_a_web_port_from_1_to_65535_is_accepted(monkeypatch, port):
    monkeypatch.setenv("WEB_PORT", port)
    assert Settings().web_port == int(port)


def test_a_replication_factor_of_zero_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("REPLICATION_FACTOR", "0")
    with pytest.raises(ValueError, match="REPLICATION_FACTOR must be at least 1, got 0"):
        Settings()


@pytest.mark.parametrize("app_id", ["", "my app", "team/standards", "é", "a" * 201])
def test_an_app_id_that_cannot_start_a_topic_name_is_refused_by_name(monkeypatch, app_id):
    monkeypatch.setenv("APP_ID", app_id)
    with pytest.raises(SettingsError, match=f"APP_ID must be 1-200 letters, digits, '.', '_' or '-' .*got {app_id!r}"):
        Settings()


@pytest.mark.parametrize("name", ["worker 1", "pod/worker-1", "a" * 250, ".", ".."])
def test_a_group_instance_id_kafka_refuses_is_refused_by_name(monkeypatch, name):
    monkeypatch.setenv("GROUP_INSTANCE_ID", name)
    with pytest.raises(SettingsError, match=f"GROUP_INSTANCE_ID must be 1-249 letters, digits, .*got {name!r}"):
        Settings()
    monkeypatch.setenv("GROUP_INSTANCE_ID", "seller-standards-0.worker_a")  # a pod name, or any of those characters
    assert Settings().group_instance_id == "seller-standards-0.worker_a"


@pytest.mark.parametrize("bootstrap", ["", "kafka:abc", "kafka://kafka:9092", "kafka:0", "kafka:65536",
                                       "kafka-1:9092,", "kafka-1:9092, kafka-2:9092", "kafka-1:9092;kafka-2:9092"])
def test_a_bootstrap_list_kafka_clients_cannot_read_is_refused_by_name(monkeypatch, bootstrap):
    monkeypatch.setenv("KAFKA_BOOTSTRAP", bootstrap)
    with pytest.raises(SettingsError, match=f"KAFKA_BOOTSTRAP must be host:port pairs .*got {bootstrap!r}"):
        Settings()


@pytest.mark.parametrize("bootstrap", ["kafka:9092", "kafka", "kafka-1.example.com:9093,kafka-2:9093",
                                       "10.0.0.7:1", "[::1]:65535", "[2001:db8::7]"])
def test_bootstrap_servers_as_kafka_clients_take_them_are_accepted(monkeypatch, bootstrap):
    monkeypatch.setenv("KAFKA_BOOTSTRAP", bootstrap)
    assert Settings().bootstrap == bootstrap


def test_an_unknown_boolean_is_refused_naming_its_variable(monkeypatch):
    monkeypatch.setenv("KAFKA_SSL", "on")
    with pytest.raises(SettingsError, match="KAFKA_SSL must be true or false"):
        Settings()
    monkeypatch.setenv("KAFKA_SSL", "No")
    assert Settings().ssl is False
    monkeypatch.setenv("KAFKA_SSL", "YES")
    assert Settings().ssl is True
