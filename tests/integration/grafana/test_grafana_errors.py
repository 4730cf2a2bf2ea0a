"""Every failure class of the Grafana client, as the user sees it: one sentence, no secret, no traceback."""

import datetime
import ipaddress
import json

import pytest

from tests.integration.grafana.grafana_helpers import (
    ADMIN_PASSWORD,
    SECRETS,
    TOKEN,
    VIEWER_TOKEN,
    assert_clean,
    play,
    run,
    stack_config,
)
from tests.support.standins.grafana_standin import start_stack


def fails(name, args, kind, msg=None, **kw):
    r = run(name, args, **kw)
    assert r.failed, r.result
    assert r.result["error_kind"] == kind, r.result
    if msg is not None:
        assert r.result["msg"] == msg
    return r


def query(conn, **extra):
    return dict(conn, datasource="Thanos", query="kafka_partition_count", **extra)


# ---------------------------------------------------------------- transport
def test_connection_refused(closed_port):
    url = "http://127.0.0.1:%d" % closed_port
    fails(
        "grafana_query",
        query({"grafana_url": url, "grafana_token": TOKEN}),
        "connection",
        "Cannot connect to Grafana at %s: connection refused (nothing listens on 127.0.0.1 port %d; is Grafana "
        "running?)." % (url, closed_port),
    )


def test_connection_refused_is_retried_by_assert_until_the_deadline(closed_port):
    url = "http://127.0.0.1:%d" % closed_port
    r = fails(
        "grafana_assert",
        query({"grafana_url": url, "grafana_token": TOKEN}, condition="present", timeout=1.5, interval=0.5),
        "connection",
    )
    assert r.result["attempts"] >= 3
    assert r.result["msg"].startswith(
        "Condition present not met within 1.5 s (%d attempts): every poll failed, the last one with: Cannot connect "
        "to Grafana at %s: connection refused" % (r.result["attempts"], url)
    )
    assert r.result["msg"].endswith("; query 'kafka_partition_count'.")


def test_dns_failure():
    fails(
        "grafana_datasource_info",
        {"grafana_url": "http://grafana.invalid:3000", "grafana_token": TOKEN},
        "dns",
        "Cannot resolve the Grafana host 'grafana.invalid' (DNS lookup failed: Name or service not known); "
        "check grafana_url.",
    )


def test_request_timeout(silent_server):
    fails(
        "grafana_query",
        query({"grafana_url": silent_server.url, "grafana_token": TOKEN}, request_timeout=1),
        "timeout",
        "Grafana at %s did not answer GET /api/datasources/name/Thanos within 1 s (request_timeout)."
        % silent_server.url,
    )


# ---------------------------------------------------------------- TLS
def _write_tls(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dojo test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # key_cert_sign, crl_sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {name: directory / ("%s.pem" % name) for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture(scope="module")
def https_grafana(tmp_path_factory, prometheus, silent_server, closed_port):
    paths = _write_tls(tmp_path_factory.mktemp("tls"))
    config = stack_config(prometheus.url, silent_server.url, closed_port)
    config["grafana"]["tls"] = {"cert": str(paths["cert"]), "key": str(paths["key"])}
    with start_stack(config) as stack:
        yield stack, paths


def test_tls_unknown_ca_is_refused_then_accepted_with_ca_path(https_grafana):
    stack, paths = https_grafana
    assert stack.grafana_url.startswith("https://")
    conn = {"grafana_url": stack.grafana_url, "grafana_token": TOKEN}
    r = fails("grafana_query", query(conn), "tls")
    assert r.result["msg"] == (
        "TLS certificate verification failed for Grafana at %s (unable to get local issuer certificate); set "
        "ca_path to the CA that signed Grafana's certificate, or validate_certs=false in a lab." % stack.grafana_url
    )
    ok = run("grafana_query", query(conn, ca_path=str(paths["ca"])))
    assert not ok.failed, ok.result
    assert ok.result["value"] == 3.0
    lab = run("grafana_query", query(conn, validate_certs=False))
    assert not lab.failed, lab.result


def test_https_url_on_a_plain_http_grafana(grafana):
    url = grafana.grafana_url.replace("http://", "https://")
    r = fails("grafana_query", query({"grafana_url": url, "grafana_token": TOKEN}), "tls")
    assert r.result["msg"].startswith("TLS handshake with Grafana at %s failed (" % url)
    assert r.result["msg"].endswith("); check that grafana_url's scheme matches the server (http or https).")


# ---------------------------------------------------------------- HTTP statuses from Grafana
def test_401_without_credentials(grafana):
    fails(
        "grafana_query",
        query({"grafana_url": grafana.grafana_url}),
        "credentials",
        "Grafana requires authentication (401 Unauthorized: Unauthorized); set grafana_token (a service account "
        "token), or grafana_user and grafana_password.",
    )


def test_401_with_a_wrong_token(grafana):
    wrong = "glsa_wrong_" + TOKEN[-8:] + "x"
    r = fails(
        "grafana_query",
        query({"grafana_url": grafana.grafana_url, "grafana_token": wrong}),
        "credentials",
        "Grafana rejected the credentials (401 Unauthorized: Invalid API key); check grafana_token, or grafana_user "
        "and grafana_password.",
    )
    assert wrong not in r.output


def test_401_with_a_wrong_password_and_basic_auth_that_works(grafana):
    base = {"grafana_url": grafana.grafana_url, "grafana_user": "admin"}
    r = fails(
        "grafana_query",
        query(dict(base, grafana_password="not-" + ADMIN_PASSWORD)),
        "credentials",
        "Grafana rejected the credentials (401 Unauthorized: Invalid username or password); check grafana_token, "
        "or grafana_user and grafana_password.",
    )
    assert "not-" + ADMIN_PASSWORD not in r.output
    ok = run("grafana_query", query(dict(base, grafana_password=ADMIN_PASSWORD)))
    assert not ok.failed, ok.result
    assert ok.result["value"] == 3.0


def test_org_id_selects_the_organisation(grafana):
    basic = {"grafana_url": grafana.grafana_url, "grafana_user": "admin", "grafana_password": ADMIN_PASSWORD}
    org2 = run("grafana_datasource_info", dict(basic, org_id=2))
    assert [d["uid"] for d in org2.result["datasources"]] == ["thanos-org2"]
    fails(
        "grafana_datasource_info",
        {"grafana_url": grafana.grafana_url, "grafana_token": TOKEN, "org_id": 2},
        "credentials",
        "Grafana rejected the credentials (401 Unauthorized: User is not a member of organization 2); check "
        "grafana_token, or grafana_user and grafana_password (and that they belong to organization 2).",
    )


def test_403_permission(grafana):
    fails(
        "grafana_query",
        query({"grafana_url": grafana.grafana_url, "grafana_token": VIEWER_TOKEN}),
        "permission",
        "Grafana denied GET /api/datasources/name/Thanos (403 Forbidden: You'll need additional permissions to "
        "perform this action. Permissions needed: datasources:read): the service account or user lacks this "
        "permission.",
    )


def test_403_for_a_post_to_a_proxied_prometheus_path(grafana):
    """The modules only GET; a POST outside query/query_range is refused by Grafana and worded the same way."""
    from ansible_collections.dojo.kafka_observability.plugins.module_utils.grafana import GrafanaClient, GrafanaError

    client = GrafanaClient({"grafana_url": grafana.grafana_url, "grafana_token": TOKEN})
    with pytest.raises(GrafanaError) as info:
        client.request("POST", "/api/datasources/proxy/uid/thanos/api/v1/admin/tsdb/snapshot", data={})
    assert info.value.kind == "permission"
    assert info.value.msg == (
        "Grafana denied POST /api/datasources/proxy/uid/thanos/api/v1/admin/tsdb/snapshot (403 Forbidden: non "
        "allow-listed POSTs not allowed on proxied Prometheus datasource): the service account or user lacks this "
        "permission."
    )
    status, body = client.request("POST", "/api/datasources/proxy/uid/thanos/api/v1/query", data={"query": "1+1"})
    assert status == 200
    assert json.loads(body)["data"]["result"][1] == "2"
    assert_clean(info.value.msg)


@pytest.mark.parametrize(
    ("name", "args", "kind", "msg"),
    [
        (
            "grafana_query",
            {"datasource": "Thanos2", "query": "up"},
            "not_found",
            "Grafana has no datasource named 'Thanos2' in the current organization (404 Not Found); list them with "
            "dojo.kafka_observability.grafana_datasource_info.",
        ),
        (
            "grafana_assert",
            {"datasource_uid": "nope", "org_id": 1, "condition": "present", "query": "up", "timeout": 30},
            "not_found",
            "Grafana has no datasource uid 'nope' in organization 1 (404 Not Found); list them with "
            "dojo.kafka_observability.grafana_datasource_info.",
        ),
        (
            "grafana_query",
            {"datasource": "Loki", "query": "up", "language": "promql"},
            "type_mismatch",
            "Datasource 'Loki' (uid loki) is of type 'loki', but a PromQL query needs a Prometheus-type datasource "
            "(Prometheus or Thanos, type 'prometheus').",
        ),
        (
            "grafana_query",
            {"datasource": "Elastic", "query": "*"},
            "type_mismatch",
            "Datasource 'Elastic' is of type 'elasticsearch'; these modules query prometheus (PromQL), loki (LogQL) "
            "and tempo (TraceQL) datasources only.",
        ),
        (
            "grafana_query",
            {"datasource": "Loki", "query": '{job="x"} | json'},
            "bad_query",
            "Datasource 'Loki' (loki) rejected the LogQL query (400 Bad Request): parse error...",
        ),
        (
            "grafana_query",
            {"datasource": "Tempo", "query": "{ .a = }"},
            "bad_query",
            "Datasource 'Tempo' (tempo) rejected the TraceQL query (400 Bad Request): invalid TraceQL query: parse "
            "error...",
        ),
        (
            "grafana_query",
            {"datasource": "Thanos", "query": "up", "time": "yesterday"},
            "invalid_argument",
            "time: 'yesterday' is not a time (epoch seconds, 'now', 'now-5m' or RFC 3339 such as "
            "2024-05-01T10:00:00Z).",
        ),
        (
            "grafana_query",
            {"grafana_url": "grafana:3000", "grafana_token": None, "datasource": "Thanos", "query": "up"},
            "invalid_argument",
            "grafana_url 'grafana:3000' must start with http:// or https://.",
        ),
    ],
)
def test_errors_waiting_cannot_fix_in_one_sentence(conn, *, name, args, kind, msg):
    """Unknown datasource, wrong type, a query the datasource rejects (its own text), bad arguments."""
    r = fails(name, {k: v for k, v in dict(conn, **args).items() if v is not None}, kind)
    if msg.endswith("..."):  # the rest is the datasource's own parser text
        assert r.result["msg"].startswith(msg[:-3])
    else:
        assert r.result["msg"] == msg
    assert r.result.get("attempts", 0) <= 1


# ---------------------------------------------------------------- errors of the datasource
def test_400_bad_promql_with_prometheus_own_text(conn):
    r = fails("grafana_query", dict(conn, datasource="Thanos", query="sum(kafka_message_count_total"), "bad_query")
    assert r.result["http_status"] == 400
    assert r.result["msg"].startswith(
        "Datasource 'Thanos' (prometheus) rejected the PromQL query (400 Bad Request): invalid parameter \"query\": "
    )
    assert "parse error" in r.result["msg"]
    # grafana_assert does not wait for a query that cannot parse
    r = fails(
        "grafana_assert",
        dict(conn, datasource="Thanos", condition="present", query="rate(kafka_message_count_total)", timeout=60),
        "bad_query",
    )
    assert r.result["attempts"] == 1
    assert r.result["elapsed"] < 10
    assert 'expected type range vector in call to function "rate"' in r.result["msg"]


def test_502_datasource_unreachable(conn):
    fails(
        "grafana_query",
        dict(conn, datasource="Prometheus down", query="up"),
        "bad_gateway",
        "Grafana could not reach datasource 'Prometheus down' at its configured URL (502 Bad Gateway from Grafana's "
        "datasource proxy).",
    )
    r = fails(
        "grafana_assert",
        dict(conn, datasource="Prometheus down", condition="present", query="up", timeout=1, interval=0.4),
        "bad_gateway",
    )
    assert r.result["attempts"] >= 2
    assert (
        "every poll failed, the last one with: Grafana could not reach datasource 'Prometheus down'" in r.result["msg"]
    )


def test_504_datasource_too_slow(conn):
    fails(
        "grafana_query",
        dict(conn, datasource="Prometheus slow", query="up"),
        "timeout",
        "Datasource 'Prometheus slow' did not answer Grafana's datasource proxy in time (504 Gateway Timeout).",
    )


# ---------------------------------------------------------------- arguments
def test_a_missing_required_option_is_ansibles_sentence(conn):
    r = run("grafana_assert", dict(conn, datasource="Thanos", condition="threshold", query="up"))
    assert r.failed
    assert r.result["msg"] == "condition is threshold but all of the following are missing: threshold"


# ---------------------------------------------------------------- the token never shows
def test_secrets_stay_out_of_verbose_output_and_the_ansible_log(grafana, tmp_path):
    """-vvvv and ANSIBLE_LOG_PATH, passing and failing tasks, token and basic auth: no secret anywhere."""
    log = tmp_path / "ansible.log"
    # the secrets come from the environment, as in the nightly job (extra vars would be echoed by -vvvv itself)
    token = {"grafana_url": grafana.grafana_url, "grafana_token": "{{ lookup('ansible.builtin.env', 'DOJO_TOKEN') }}"}
    basic = {
        "grafana_url": grafana.grafana_url,
        "grafana_user": "admin",
        "grafana_password": "{{ lookup('ansible.builtin.env', 'DOJO_PASSWORD') }}",
    }
    tasks = [
        {"dojo.kafka_observability.grafana_query": dict(token, datasource="Thanos", query="up"), "register": "ok"},
        {
            "dojo.kafka_observability.grafana_query": dict(token, datasource="Prometheus down", query="up"),
            "ignore_errors": True,
            "register": "down",
        },
        {
            "dojo.kafka_observability.grafana_assert": dict(
                basic, datasource="Thanos", condition="threshold", query="up", threshold=5, timeout=0
            ),
            "ignore_errors": True,
            "register": "below",
        },
        {"dojo.kafka_observability.grafana_datasource_info": dict(basic, org_id=7), "ignore_errors": True},
        {"ansible.builtin.assert": {"that": ["ok.value == 1", "down.failed", "below.failed"]}},
    ]
    proc = play(
        tmp_path,
        tasks,
        env={"ANSIBLE_LOG_PATH": str(log), "DOJO_TOKEN": TOKEN, "DOJO_PASSWORD": ADMIN_PASSWORD},
        args=("-vvvv",),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in proc.stdout  # -vvvv did print the module arguments
    assert "Grafana could not reach datasource 'Prometheus down'" in proc.stdout
    text = log.read_text()
    assert "User is not a member of organization 7" in text  # the log was written, errors included
    for secret in SECRETS:
        assert secret not in text


def test_a_token_echoed_by_a_server_is_redacted(grafana):
    """If a server ever echoed the credentials in an error, the client masks them before wording the error."""
    from ansible_collections.dojo.kafka_observability.plugins.module_utils.grafana import GrafanaClient

    client = GrafanaClient({"grafana_url": grafana.grafana_url, "grafana_token": TOKEN})
    error = client._http_error(400, "Bad Request", ("bad token %s" % TOKEN).encode(), "GET", "/api/x", context=None)
    assert TOKEN not in error.msg
    assert "bad token ********" in error.msg
