# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared code of the kafka_* modules: one argument spec, one way to connect, one way to fail.

Works with kafka-python 2.0.2 (Debian trixie's python3-kafka, RHEL 9 via pip) and 3.0.x, whose
APIs and result shapes differ; every difference is absorbed here so the modules see one shape.
Python 3.9 compatible (managed hosts may run RHEL 9's platform Python).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import inspect
import logging
import re
import signal
import threading
import time
import traceback

from ansible.module_utils.basic import missing_required_lib

KAFKA_IMPORT_ERROR = None
KAFKA_VERSION = None
try:
    import kafka
    import kafka.errors as kafka_errors

    # the modules import these from here (one guarded import for all of them)
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # pylint: disable=unused-import
    from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic  # pylint: disable=unused-import

    KAFKA_VERSION = getattr(kafka, "__version__", None)
    HAS_KAFKA = True
except Exception:  # pylint: disable=broad-except
    # PyPI's kafka-python 2.0.2 raises ImportError on Python >= 3.12 (its vendored six);
    # any failure to import means the same thing for the user: no usable kafka-python.
    KAFKA_IMPORT_ERROR = traceback.format_exc()
    HAS_KAFKA = False
    kafka_errors = None
    KafkaAdminClient = KafkaConsumer = KafkaProducer = TopicPartition = None
    ConfigResource = ConfigResourceType = NewPartitions = NewTopic = None

MIN_KAFKA_PYTHON = "2.0.2"
SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

# The connection options every kafka_* module takes (documented in doc_fragments/kafka.py).
KAFKA_COMMON_ARGUMENT_SPEC = dict(
    bootstrap_servers=dict(type="list", elements="str", default=["localhost:9092"]),
    security_protocol=dict(type="str", default="PLAINTEXT", choices=SECURITY_PROTOCOLS),
    sasl_mechanism=dict(type="str", choices=SASL_MECHANISMS),
    sasl_username=dict(type="str"),
    sasl_password=dict(type="str", no_log=True),
    ssl_cafile=dict(type="path"),
    ssl_certfile=dict(type="path"),
    ssl_keyfile=dict(type="path"),
    request_timeout=dict(type="float", default=30.0),
)

KAFKA_COMMON_REQUIRED_IF = [
    ("security_protocol", "SASL_PLAINTEXT", ("sasl_mechanism", "sasl_username", "sasl_password")),
    ("security_protocol", "SASL_SSL", ("sasl_mechanism", "sasl_username", "sasl_password")),
]
KAFKA_COMMON_REQUIRED_TOGETHER = [("ssl_certfile", "ssl_keyfile")]

# Kafka's own rule for topic names (kafka.common.internals.Topic): the modules check it before
# they ask the broker anything, so a bad name fails with the rule rather than a broker error code.
TOPIC_NAME_RE = re.compile(r"^[a-zA-Z0-9._-]+$")
TOPIC_NAME_MAX = 249

# topic config sources (DescribeConfigs v1+) that mean "set on this topic"
_DYNAMIC_TOPIC_CONFIG = 1


def kafka_argument_spec(**module_options):
    """The shared connection options plus a module's own options."""
    spec = dict((k, dict(v)) for k, v in KAFKA_COMMON_ARGUMENT_SPEC.items())
    spec.update(module_options)
    return spec


def validate_topic_name(name):
    """Return None when `name` is a legal Kafka topic name, else the reason it is not."""
    if name is None or name == "":
        return "the topic name is empty"
    if name in (".", ".."):
        return "a topic cannot be named '.' or '..'"
    if len(name) > TOPIC_NAME_MAX:
        return "the topic name is {0} characters long, Kafka allows at most {1}".format(len(name), TOPIC_NAME_MAX)
    if not TOPIC_NAME_RE.match(name):
        bad = sorted(set(c for c in name if not TOPIC_NAME_RE.match(c)))
        return "it contains {0}; Kafka topic names use only ASCII letters, digits, '.', '_' and '-'".format(
            ", ".join(repr(c) for c in bad)
        )
    return None


def connection_problems(params):
    """Settings that cannot work together, found before any connection is tried."""
    problems = []
    protocol = params.get("security_protocol") or "PLAINTEXT"
    sasl_set = [k for k in ("sasl_mechanism", "sasl_username", "sasl_password") if params.get(k)]
    if sasl_set and not protocol.startswith("SASL_"):
        problems.append(
            "{0} set but security_protocol is {1}: SASL credentials are only used with "
            "security_protocol SASL_PLAINTEXT or SASL_SSL".format(
                " and ".join(sasl_set) + (" is" if len(sasl_set) == 1 else " are"), protocol
            )
        )
    ssl_set = [k for k in ("ssl_cafile", "ssl_certfile", "ssl_keyfile") if params.get(k)]
    if ssl_set and protocol not in ("SSL", "SASL_SSL"):
        problems.append(
            "{0} set but security_protocol is {1}: TLS files are only used with "
            "security_protocol SSL or SASL_SSL".format(", ".join(ssl_set), protocol)
        )
    servers = params.get("bootstrap_servers") or []
    if not servers:
        problems.append("bootstrap_servers is empty: give at least one host:port")
    for server in servers:
        host, sep, port = str(server).rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            problems.append("bootstrap server {0!r} is not host:port".format(server))
    timeout = params.get("request_timeout")
    if timeout is not None and timeout <= 0:
        problems.append("request_timeout must be a positive number of seconds, got {0}".format(timeout))
    return problems


def client_config(params, client_class=None, **extra):
    """Keyword arguments for a kafka-python client from the module parameters.

    Options the installed kafka-python does not know (they differ between 2.0.2 and 3.0) are
    dropped, so the same call works with both.
    """
    timeout_ms = int(float(params.get("request_timeout") or 30) * 1000)
    config = dict(
        bootstrap_servers=list(params.get("bootstrap_servers") or []),
        security_protocol=params.get("security_protocol") or "PLAINTEXT",
        request_timeout_ms=timeout_ms,
        # how long to wait for the first broker: 2.0.2 and 3.0 name it differently
        api_version_auto_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
        client_id="dojo.kafka_observability",
    )
    if params.get("sasl_mechanism"):
        config["sasl_mechanism"] = params["sasl_mechanism"]
        config["sasl_plain_username"] = params.get("sasl_username")
        config["sasl_plain_password"] = params.get("sasl_password")
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        if params.get(name):
            config[name] = params[name]
    config.update(extra)
    known = getattr(client_class, "DEFAULT_CONFIG", None)
    if known is not None:
        config = dict((k, v) for k, v in config.items() if k in known)
    return config


def describe_servers(params):
    return ", ".join(params.get("bootstrap_servers") or []) or "(none)"


def error_text(exc):
    """A short, readable description of an exception from kafka-python (no request dumps)."""
    name = type(exc).__name__
    description = getattr(exc, "description", None)
    errno = getattr(exc, "errno", None)
    if description and errno is not None:
        text = "{0} (Kafka error {1}): {2}".format(name, errno, description)
    else:
        text = str(exc) or name
        if not text.startswith(name):
            text = "{0}: {1}".format(name, text)
    text = text.splitlines()[0] if text else name
    if len(text) > 300:
        text = text[:297] + "..."
    if text.endswith(".") and not text.endswith("..."):
        text = text[:-1]
    return text


class KafkaDeadlineExceeded(Exception):
    """Raised in the main thread when an operation outlives its deadline."""

    def __init__(self, what, seconds):
        super(KafkaDeadlineExceeded, self).__init__("{0}: no answer within {1:g} s".format(what, seconds))
        self.what = what
        self.seconds = seconds


@contextlib.contextmanager
def deadline(seconds, what):
    """Interrupt the block after `seconds` (SIGALRM) with KafkaDeadlineExceeded.

    kafka-python 3.0 can wait forever on a TLS handshake with a plaintext listener although its
    bootstrap timeout has passed; the module must still end within its timeout.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds is None or seconds <= 0:
        yield
        return

    def _expired(signum, frame):
        raise KafkaDeadlineExceeded(what, seconds)

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _LogCapture(logging.Handler):
    """Keeps kafka-python's log off stderr; its INFO and WARNING lines explain failed connections
    (2.0.2 logs a refused SASL handshake at INFO only)."""

    def __init__(self, limit=200):
        super(_LogCapture, self).__init__(level=logging.INFO)
        self.limit = limit
        self.records = []

    def emit(self, record):
        try:
            message = record.getMessage()
        except Exception:  # pylint: disable=broad-except
            message = str(record.msg)
        entry = (record.levelno, message)
        if len(self.records) < self.limit:
            self.records.append(entry)
        else:
            self.records[-1] = entry

    def recent(self, count=8):
        """The last `count` distinct warnings and errors, oldest first (returned as kafka_log on failures)."""
        seen = []
        for level, message in reversed(self.records):
            if level >= logging.WARNING and message not in seen:
                seen.append(message)
            if len(seen) >= count:
                break
        return list(reversed(seen))

    def causes(self):
        """Distinct root causes, most specific first (SASL, TLS, refused, DNS)."""
        found = []
        for _level, message in self.records:
            cause = _cause_of(message)
            if cause and cause not in found:
                found.append(cause)
        return found


_CAUSE_PATTERNS = [
    # kafka-python 3.0 (SaslAuthenticate): "SaslAuthenticationFailedError: Authentication failed: Invalid
    # username or password"
    (
        re.compile(r"SaslAuthenticationFailed|AuthenticationFailed", re.I),
        "the broker rejected the SASL user name or password ({0})",
    ),
    # kafka-python 2.0.2 sends the PLAIN token without SaslAuthenticate: Kafka closes the connection
    # when the credentials are wrong, which the client logs as an error receiving the reply
    (
        re.compile(r"<authenticating>.*Error receiving reply from server", re.I),
        "the broker closed the connection during SASL authentication (Kafka's answer to a wrong user name "
        "or password from kafka-python 2.0)",
    ),
    (
        re.compile(r"UnsupportedSaslMechanism", re.I),
        "the broker's listener does not offer this SASL mechanism ({0})",
    ),
    # a SaslHandshake sent to a listener without SASL (Kafka answers ILLEGAL_SASL_STATE)
    (
        re.compile(r"IllegalSaslState", re.I),
        "the broker's listener does not use SASL ({0}): check security_protocol",
    ),
    (
        re.compile(r"Sasl\w*", re.I),
        "the SASL handshake failed ({0})",
    ),
    (re.compile(r"^(?=.*(?:SSL|TLS|certificate))(?=.*(?:error|fail|handshake|refused))", re.I), "TLS failed ({0})"),
    (
        re.compile(r"ECONNREFUSED|Connection refused|returned error 111", re.I),
        "connection refused (nothing listens there: is the broker running, is the port right?)",
    ),
    (
        re.compile(r"getaddrinfo|Name or service not known|DNS lookup failed|not resolve", re.I),
        "the host name does not resolve",
    ),
    (re.compile(r"timed out|ETIMEDOUT", re.I), "the connection timed out"),
]


_ERROR_NAME = re.compile(r"\b(\w+Error)\b")


def _cause_of(message):
    for pattern, template in _CAUSE_PATTERNS:
        if pattern.search(message):
            names = _ERROR_NAME.findall(message)
            detail = names[-1] if names else message.rsplit(": ", 1)[-1].strip()
            return template.format(detail)
    return None


class KafkaModuleHelper(object):
    """What every kafka_* module does the same way: check inputs, connect, explain failures."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.timeout = float(self.params.get("request_timeout") or 30)
        self.logs = _LogCapture()
        self._clients = []
        self.check_requirements()
        problems = connection_problems(self.params)
        if problems:
            self.fail("invalid connection settings: " + "; ".join(problems))
        logger = logging.getLogger("kafka")
        logger.addHandler(self.logs)
        logger.setLevel(logging.INFO)
        logger.propagate = False

    def check_requirements(self):
        if not HAS_KAFKA:
            first_line = (KAFKA_IMPORT_ERROR or "").strip().splitlines()[-1:] or [""]
            self.module.fail_json(
                msg="{0}. Import error: {1}".format(
                    missing_required_lib(
                        "kafka-python >= {0}".format(MIN_KAFKA_PYTHON),
                        url="https://pypi.org/project/kafka-python/",
                    ).rstrip("."),
                    first_line[0],
                ),
                exception=KAFKA_IMPORT_ERROR,
            )

    def fail(self, msg, **result):
        self.close()
        result.setdefault("kafka_python_version", KAFKA_VERSION)
        self.module.fail_json(msg=msg, **result)

    def exit(self, **result):
        self.close()
        result.setdefault("kafka_python_version", KAFKA_VERSION)
        self.module.exit_json(**result)

    def close(self):
        while self._clients:
            self.close_client(self._clients[-1])

    def close_client(self, client, *args):
        """Close one client now (args go to its close(): a producer's timeout, 0 drops what it still holds)."""
        if client in self._clients:
            self._clients.remove(client)
        try:
            with deadline(5, "closing the client"):
                client.close(*args)
        except Exception as exc:  # pylint: disable=broad-except
            # the result is already decided; a client that does not close cleanly changes nothing
            self.module.debug("closing a Kafka client failed: {0}".format(exc))

    def validate_topic(self, name, option="topic"):
        problem = validate_topic_name(name)
        if problem:
            self.fail("invalid {0} name {1!r}: {2}".format(option, name, problem))

    def connection_failure(self, exc, action="connect"):
        """Explain a failure to reach or talk to the broker, naming it."""
        settings = "security_protocol={0}".format(self.params.get("security_protocol"))
        if self.params.get("sasl_mechanism"):
            settings += ", sasl_mechanism={0}".format(self.params["sasl_mechanism"])
        causes = self.logs.causes()
        if isinstance(exc, KafkaDeadlineExceeded):
            detail = "no answer at all (the connection or its TLS/SASL handshake hung)"
        else:
            detail = error_text(exc)
        msg = "cannot {0} Kafka broker(s) {1} within {2:g} s ({3}): ".format(
            action, describe_servers(self.params), self.timeout, settings
        )
        if causes:
            # the cause names the problem (the client's own lines are in kafka_log)
            return msg + "; ".join(causes[:3]) + "."
        return msg + (
            "{0}; check the address and port, that the broker is running, and that "
            "security_protocol/SASL/TLS match its listener.".format(detail)
        )

    def connect(self, client_class, **extra):
        """Construct a kafka-python client (this is where it contacts the bootstrap servers)."""
        config = client_config(self.params, client_class, **extra)
        try:
            # kafka-python gives up after request_timeout; the deadline is the safety net
            with deadline(self.timeout + 1, "connecting"):
                client = client_class(**config)
        except Exception as exc:  # pylint: disable=broad-except
            self.fail(self.connection_failure(exc, "connect to"), kafka_log=self.logs.recent())
        self._clients.append(client)
        return client

    def admin(self):
        return self.connect(KafkaAdminClient)

    def call(self, what, func, *args, **kwargs):
        """Run one client call within the deadline; a failure ends the module with `what` in the message.

        The keyword `_hint` (not passed on) is appended to the message of a failure that is not a
        connection failure; it may be a function of the exception that returns the text (or "").
        """
        hint = kwargs.pop("_hint", "")
        try:
            with deadline(self.timeout + 1, what):
                return func(*args, **kwargs)
        except KafkaDeadlineExceeded as exc:
            self.fail(self.connection_failure(exc, "get an answer from"))
        except Exception as exc:  # pylint: disable=broad-except
            if is_connection_error(exc):
                self.fail(self.connection_failure(exc, "get an answer from"), kafka_log=self.logs.recent())
            self.fail("{0} failed: {1}{2}".format(what, error_text(exc), hint(exc) if callable(hint) else hint))
        return None


def is_connection_error(exc):
    if kafka_errors is None:
        return False
    connection_types = tuple(
        getattr(kafka_errors, name)
        for name in ("NoBrokersAvailable", "KafkaConnectionError", "NodeNotReadyError", "KafkaTimeoutError")
        if hasattr(kafka_errors, name)
    )
    return isinstance(exc, connection_types)


# ------------------------------------------------------------------ metadata, both shapes
def _pick(mapping, *names, **kwargs):
    for name in names:
        if name in mapping:
            return mapping[name]
    return kwargs.get("default")


def error_name(code):
    if not code:
        return None
    if kafka_errors is not None:
        return kafka_errors.for_code(code).__name__
    return "KafkaError{0}".format(code)


def normalize_partition(partition):
    """One partition of a metadata answer (2.0.2: partition/leader/replicas/isr; 3.0: *_index/*_id/*_nodes)."""
    return dict(
        partition=_pick(partition, "partition_index", "partition"),
        leader=_pick(partition, "leader_id", "leader", default=-1),
        replicas=list(_pick(partition, "replica_nodes", "replicas", default=[]) or []),
        isrs=list(_pick(partition, "isr_nodes", "isr", default=[]) or []),
        offline_replicas=list(partition.get("offline_replicas") or []),
        error=error_name(partition.get("error_code")),
    )


def normalize_topic(topic):
    partitions = sorted((normalize_partition(p) for p in topic.get("partitions") or []), key=lambda p: p["partition"])
    replication = max([len(p["replicas"]) for p in partitions] or [0])
    return dict(
        name=_pick(topic, "name", "topic"),
        internal=bool(topic.get("is_internal", False)),
        error=error_name(topic.get("error_code")),
        partition_count=len(partitions),
        replication_factor=replication,
        partitions=partitions,
    )


def normalize_cluster(cluster):
    controller = cluster.get("controller_id")
    brokers = []
    for broker in cluster.get("brokers") or []:
        broker_id = _pick(broker, "broker_id", "node_id")
        brokers.append(
            dict(
                id=broker_id,
                host=broker.get("host"),
                port=broker.get("port"),
                rack=broker.get("rack"),
                controller=broker_id == controller,
            )
        )
    brokers.sort(key=lambda b: b["id"])
    return dict(cluster_id=cluster.get("cluster_id"), controller_id=controller, brokers=brokers)


def kcat_style_summary(cluster, topics, origin=None):
    """The lines `kcat -L` prints, from normalized data (what the seed's reader compares against)."""
    lines = []
    if origin:
        lines.append("Metadata for all topics (from broker {0}):".format(origin))
    lines.append(" {0} brokers:".format(len(cluster["brokers"])))
    for broker in cluster["brokers"]:
        lines.append(
            "  broker {0} at {1}:{2}{3}".format(
                broker["id"], broker["host"], broker["port"], " (controller)" if broker["controller"] else ""
            )
        )
    lines.append(" {0} topics:".format(len(topics)))
    for topic in topics:
        lines.append('  topic "{0}" with {1} partitions:'.format(topic["name"], topic["partition_count"]))
        for p in topic["partitions"]:
            lines.append(
                "    partition {0}, leader {1}, replicas: {2}, isrs: {3}".format(
                    p["partition"],
                    p["leader"],
                    ",".join(str(r) for r in p["replicas"]),
                    ",".join(str(r) for r in p["isrs"]),
                )
            )
    return lines


def describe_cluster(helper, admin):
    return normalize_cluster(helper.call("describing the cluster", admin.describe_cluster))


def describe_topics(helper, admin):
    """All topics, normalized, by name (listing all avoids any auto-creation on old Metadata versions)."""
    raw = helper.call("listing topics", admin.describe_topics) or []
    topics = {}
    for entry in raw:
        topic = normalize_topic(entry)
        if topic["name"] is not None and topic["error"] is None:
            topics[topic["name"]] = topic
    return topics


def wait_for_topic(helper, admin, name, present=True, partitions=None, *, timeout=None):
    """Poll the metadata until the topic is (or is no longer) there, with a deadline. True when it is."""
    limit = time.monotonic() + (timeout if timeout is not None else helper.timeout)
    delay = 0.05
    while True:
        topics = describe_topics(helper, admin)
        topic = topics.get(name)
        if present:
            ready = (
                topic is not None
                and (partitions is None or topic["partition_count"] >= partitions)
                and all(p["leader"] is not None and p["leader"] >= 0 for p in topic["partitions"])
            )
        else:
            ready = topic is None
        if ready or time.monotonic() >= limit:
            return ready
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


# ------------------------------------------------------------------ topic configuration
def describe_topic_config(helper, admin, name):
    """{key: value} of the topic's configuration as the broker reports it, both library shapes."""
    resource = ConfigResource(ConfigResourceType.TOPIC, name)
    kwargs = {}
    if "config_filter" in inspect.signature(admin.describe_configs).parameters:
        # 3.0 hides entries whose source is DEFAULT_CONFIG unless asked: without them a key
        # asked for with its default value would look missing and be "changed" on every run
        kwargs["config_filter"] = "all"
    raw = helper.call(
        "describing the configuration of topic {0!r}".format(name), admin.describe_configs, [resource], **kwargs
    )
    return parse_describe_configs(raw, name)


def parse_describe_configs(raw, name):
    """Normalize describe_configs() output: 3.0 returns nested dicts, 2.0.2 a list of responses.

    Returns {key: {"value": str, "dynamic": bool}}.
    """
    config = {}
    if isinstance(raw, dict):
        for key, entry in (raw.get("topic") or {}).get(name, {}).items():
            source = entry.get("config_source")
            config[key] = dict(
                value=entry.get("value"), dynamic=source in ("DYNAMIC_TOPIC_CONFIG", _DYNAMIC_TOPIC_CONFIG)
            )
        return config
    for response in raw or []:
        for resource in getattr(response, "resources", []):
            error_code, error_message, resource_name, entries = resource[0], resource[1], resource[3], resource[4]
            if resource_name != name:
                continue
            if error_code:
                raise ValueError(
                    "DescribeConfigs for topic {0!r}: {1} ({2})".format(name, error_name(error_code), error_message)
                )
            for entry in entries:
                flag = entry[3]
                # v0: (name, value, read_only, is_default, is_sensitive); v1+: (..., config_source, ...)
                dynamic = (not flag) if isinstance(flag, bool) else flag == _DYNAMIC_TOPIC_CONFIG
                config[entry[0]] = dict(value=entry[1], dynamic=dynamic)
    return config


def alter_topic_config(helper, admin, name, changes, current):
    """Set `changes` ({key: value}) on the topic; keeps the other keys.

    kafka-python 3.0 uses IncrementalAlterConfigs when the broker has it (Kafka 2.3+); 2.0.2 only
    knows AlterConfigs, which replaces the whole topic configuration, so the keys set on the topic
    are sent along.
    """
    if "incremental" in inspect.signature(admin.alter_configs).parameters:
        resource = ConfigResource(ConfigResourceType.TOPIC, name, configs=dict(changes))
        result = admin.alter_configs([resource], raise_on_unknown=False)
        outcome = (result.get("topic") or {}).get(name) if isinstance(result, dict) else None
        if outcome not in (None, "OK") and not (isinstance(outcome, str) and outcome.upper() in ("OK", "NONE")):
            raise ValueError("AlterConfigs for topic {0!r}: {1}".format(name, outcome))
        return
    merged = dict((k, v["value"]) for k, v in current.items() if v.get("dynamic"))
    merged.update(changes)
    resource = ConfigResource(ConfigResourceType.TOPIC, name, configs=merged)
    response = admin.alter_configs([resource])
    for entry in getattr(response, "resources", []):
        if entry[0]:
            raise ValueError("AlterConfigs for topic {0!r}: {1} ({2})".format(name, error_name(entry[0]), entry[1]))


# ------------------------------------------------------------------ templates
_FIELD_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
TEMPLATE_FIELDS = ("index", "topic")


def render_template(template, option, index, topic):
    """Replace {index} (1-based) and {topic}; other braces stay as they are (JSON values work).

    Not str.format: Ansible templates the module arguments with Jinja first, so format's {{ }}
    escapes cannot reach the module. A bare {name} that is not a field is most likely a typo,
    and an error.
    """
    unknown = sorted(set(name for name in _FIELD_RE.findall(template) if name not in TEMPLATE_FIELDS))
    if unknown:
        raise ValueError(
            "{0} {1!r} uses the unknown field {2}: the fields are {{index}} and {{topic}}".format(
                option, template, ", ".join("{" + name + "}" for name in unknown)
            )
        )
    values = dict(index=str(index), topic=topic)
    return _FIELD_RE.sub(lambda match: values[match.group(1)], template)


def decode_bytes(data):
    if data is None:
        return None
    if isinstance(data, bytes):
        return data.decode("utf-8", "backslashreplace")
    return str(data)


def check_expectations(values, expect_count=None, expect_contains=None, expect_regex=None):
    """The list of unmet expectations (empty when all hold) about consumed message values."""
    problems = []
    texts = [v if v is not None else "" for v in values]
    if expect_count is not None and len(texts) != expect_count:
        problems.append("expected {0} messages, found {1}".format(expect_count, len(texts)))
    for needle in expect_contains or []:
        if not any(needle in text for text in texts):
            problems.append("no message contains {0!r}".format(needle))
    if expect_regex:
        pattern = re.compile(expect_regex)
        if not any(pattern.search(text) for text in texts):
            problems.append("no message matches the regular expression {0!r}".format(expect_regex))
    return problems


def describe_found(messages, limit=3):
    """A short account of what was consumed, for failure messages."""
    if not messages:
        return "found no messages"
    per_partition = {}
    for message in messages:
        per_partition[message["partition"]] = per_partition.get(message["partition"], 0) + 1
    parts = ", ".join("{0}: {1}".format(p, n) for p, n in sorted(per_partition.items()))
    first = [m["value"] for m in messages[:limit]]
    last = [m["value"] for m in messages[-limit:]] if len(messages) > limit else []
    text = "found {0} messages (per partition {1}); first values: {2}".format(
        len(messages), parts, ", ".join(repr(v) for v in first)
    )
    if last:
        text += "; last values: " + ", ".join(repr(v) for v in last)
    return text


def summarize_deliveries(records):
    """Per-partition count and first/last offsets from (partition, offset) pairs."""
    partitions = {}
    for partition, offset in records:
        entry = partitions.setdefault(
            partition, dict(partition=partition, count=0, first_offset=offset, last_offset=offset)
        )
        entry["count"] += 1
        if offset is not None and offset >= 0:
            if entry["first_offset"] is None or entry["first_offset"] < 0 or offset < entry["first_offset"]:
                entry["first_offset"] = offset
            if entry["last_offset"] is None or offset > entry["last_offset"]:
                entry["last_offset"] = offset
    return [partitions[p] for p in sorted(partitions)]
