"""grafana_assert on metrics: threshold, increase, present, absent, through Grafana to a REAL Prometheus."""

import threading

import pytest

from tests.integration.grafana.grafana_helpers import play, proxied_queries, run
from tests.support.prometheus import wait_for


def scraped(prometheus, expr, value):
    wait_for(lambda: prometheus.value(expr) == value, timeout=20, what="Prometheus to scrape %s = %s" % (expr, value))


def test_threshold_passes_and_reports_observed_attempts_elapsed(conn, kafka_target, prometheus):
    fetched = kafka_target.inc("kafka_request_count_total", {"type": "fetch"}, by=4)
    scraped(prometheus, 'kafka_request_count_total{type="fetch"}', fetched)
    r = run(
        "grafana_assert",
        dict(
            conn, datasource="Thanos", condition="threshold", kafka_metric="fetch_requests", operator=">", threshold=0
        ),
    )
    assert not r.failed, r.result
    assert r.result["passed"] is True
    assert r.result["observed"] == fetched
    assert r.result["attempts"] == 1
    assert 0 <= r.result["elapsed"] < 5
    assert r.result["query"] == 'sum(kafka_request_count_total{type="fetch"})'
    assert r.result["msg"].startswith("Condition threshold met after 1 attempt in ")


def test_threshold_fails_at_the_deadline_with_last_value_and_query(conn):
    r = run(
        "grafana_assert",
        dict(
            conn,
            datasource="Thanos",
            condition="threshold",
            query="kafka_partition_count",
            operator="==",
            threshold=4,
            timeout=2,
            interval=0.5,
        ),
    )
    assert r.failed
    assert r.result["passed"] is False
    assert r.result["observed"] == 3.0
    assert r.result["attempts"] >= 3
    assert 2 <= r.result["elapsed"] < 6
    assert r.result["msg"] == (
        "Condition threshold not met within 2 s (%d attempts): needed every series == 4, observed 3; "
        "query 'kafka_partition_count' on datasource 'Thanos'." % r.result["attempts"]
    )


@pytest.mark.parametrize(
    ("match", "threshold", "passed", "observed"),
    [("all", 5, False, [1.0, 10.0]), ("any", 5, True, [1.0, 10.0]), ("sum", 11, True, 11.0), ("sum", 12, False, 11.0)],
)
def test_threshold_match_all_any_sum_over_several_series(
    conn, kafka_target, prometheus, *, match, threshold, passed, observed
):
    kafka_target.set("dojo_lag", 1, {"partition": "0"}, kind="gauge")
    kafka_target.set("dojo_lag", 10, {"partition": "1"}, kind="gauge")
    wait_for(lambda: len(prometheus.query("dojo_lag")) == 2, timeout=20, what="two dojo_lag series")
    args = dict(conn, datasource="Thanos", condition="threshold", query="dojo_lag", operator=">=", timeout=0)
    r = run("grafana_assert", dict(args, match=match, threshold=threshold))
    assert r.failed is not passed, r.result
    got = sorted(r.result["observed"]) if isinstance(r.result["observed"], list) else r.result["observed"]
    assert got == observed


def test_threshold_on_no_series_fails_even_for_less_than(conn):
    r = run(
        "grafana_assert",
        dict(
            conn,
            datasource="Thanos",
            condition="threshold",
            query="no_such_metric",
            operator="<",
            threshold=1,
            timeout=0,
        ),
    )
    assert r.failed
    assert "needed every series < 1, got no series" in r.result["msg"]
    assert r.result["observed"] is None


def test_increase_from_a_grafana_query_baseline_in_a_playbook(conn, kafka_target, prometheus, tmp_path):
    """The verification playbook's pattern: baseline, produce 50 messages, assert a rise of >= 50."""
    before = kafka_target.get("kafka_message_count_total")
    scraped(prometheus, "kafka_message_count_total", before)
    produce_url = "http://%s/inc?name=kafka_message_count_total&by=50" % kafka_target.address
    grafana = {"grafana_url": conn["grafana_url"], "grafana_token": "{{ token }}", "datasource": "Thanos"}
    tasks = [
        {
            "name": "baseline",
            "dojo.kafka_observability.grafana_query": dict(grafana, kafka_metric="messages"),
            "register": "before",
        },
        {"name": "produce 50 messages", "ansible.builtin.uri": {"url": produce_url, "method": "POST"}},
        {
            "name": "kafka_message_count_total rose by 50",
            "dojo.kafka_observability.grafana_assert": dict(
                grafana,
                condition="increase",
                kafka_metric="messages",
                baseline="{{ before.value | default(0, true) }}",
                min_increase=50,
                timeout=30,
                interval=1,
            ),
            "register": "rose",
        },
        {"ansible.builtin.assert": {"that": ["rose.increase >= 50", "rose.baseline == %s" % before, "rose.passed"]}},
        {
            "name": "but not by 1000",
            "dojo.kafka_observability.grafana_assert": dict(
                grafana,
                condition="increase",
                kafka_metric="messages",
                baseline="{{ before.value | default(0, true) }}",
                min_increase=1000,
                timeout=1,
                interval=0.5,
            ),
            "register": "not_enough",
            "ignore_errors": True,
        },
        {"ansible.builtin.assert": {"that": ["not_enough.failed", "not_enough.observed == 50"]}},
        {"ansible.builtin.debug": {"msg": "{{ not_enough.msg }}"}},
    ]
    proc = play(tmp_path, tasks, extra_vars={"token": conn["grafana_token"]})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "needed an increase >= 1000 since the baseline %d, observed 50 (now %d); "
        "query 'sum(kafka_message_count_total)' on datasource 'Thanos'." % (before, before + 50)
    ) in proc.stdout


def test_increase_with_the_first_poll_as_baseline(conn, grafana, kafka_target, prometheus):
    """No baseline given: the first poll is the baseline, messages produced while the task waits count."""
    current = kafka_target.get("kafka_message_count_total")
    scraped(prometheus, "kafka_message_count_total", current)
    seen = proxied_queries(grafana, "kafka_message_count_total")
    produced = threading.Event()

    def produce_after_first_poll():
        wait_for(
            lambda: proxied_queries(grafana, "kafka_message_count_total") > seen, timeout=60, what="the first poll"
        )
        kafka_target.inc("kafka_message_count_total", by=5)
        produced.set()

    thread = threading.Thread(target=produce_after_first_poll, daemon=True)
    thread.start()
    r = run(
        "grafana_assert",
        dict(
            conn,
            datasource="Thanos",
            condition="increase",
            kafka_metric="messages",
            min_increase=5,
            timeout=30,
            interval=0.5,
        ),
    )
    thread.join(timeout=60)
    assert produced.is_set()
    assert not r.failed, r.result
    assert r.result["baseline_source"] == "first_poll"
    assert r.result["baseline"] == current
    assert r.result["increase"] == 5
    assert r.result["current"] == current + 5
    assert r.result["attempts"] >= 2


def test_increase_counts_a_counter_reset(conn, kafka_target, prometheus):
    kafka_target.set("dojo_restarted_total", 7)
    scraped(prometheus, "dojo_restarted_total", 7)
    r = run(
        "grafana_assert",
        dict(
            conn,
            datasource="Thanos",
            condition="increase",
            query="dojo_restarted_total",
            baseline=1000,
            min_increase=5,
            timeout=0,
        ),
    )
    assert not r.failed, r.result
    assert r.result["counter_reset"] is True
    assert r.result["increase"] == 7


@pytest.mark.parametrize(
    ("options", "passed", "observed", "words"),
    [
        ({"condition": "present", "query": "kafka_request_count_total", "min_count": 2}, True, 2, "observed 2"),
        (
            {"condition": "present", "query": "kafka_request_count_total", "min_count": 3},
            False,
            2,
            "needed at least 3 series, observed 2",
        ),
        ({"condition": "absent", "query": "no_such_metric"}, True, 0, "needed no series, observed 0"),
        ({"condition": "absent", "query": "kafka_partition_count"}, False, 1, "needed no series, observed 1"),
    ],
)
def test_present_and_absent(conn, kafka_target, prometheus, *, options, passed, observed, words):
    r = run("grafana_assert", dict(conn, datasource="Thanos", timeout=0, **options))
    assert r.failed is not passed, r.result
    assert r.result["observed"] == observed
    assert words in r.result["msg"]


def test_absent_waits_for_a_series_to_disappear(conn, kafka_target, prometheus):
    kafka_target.set("dojo_going_away", 1, kind="gauge")
    scraped(prometheus, "dojo_going_away", 1.0)
    kafka_target.remove("dojo_going_away")  # Prometheus marks it stale at the next scrape
    r = run(
        "grafana_assert",
        dict(conn, datasource="Thanos", condition="absent", query="dojo_going_away", timeout=30, interval=0.5),
    )
    assert not r.failed, r.result
    assert r.result["observed"] == 0


def test_check_mode_polls_and_reports(conn):
    r = run(
        "grafana_assert",
        dict(conn, datasource="Thanos", condition="present", kafka_metric="partitions", timeout=0),
        check=True,
    )
    assert not r.failed, r.result
    assert r.result["changed"] is False
    assert r.result["observed"] == 1
    assert r.result["series"][0]["value"] == 3.0
