#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: grafana_assert
short_description: Wait until telemetry seen through Grafana meets a condition
version_added: 0.1.0
description:
  - Polls a Grafana datasource until a condition holds, and fails with the last observed value
    and the query when it still does not hold at the deadline (O(timeout)). It checks
    automatically what a person would look at in Grafana's Explore page.
  - Conditions on a Prometheus-type datasource (Prometheus or Thanos) - V(threshold) (a PromQL
    result compared to a number), V(increase) (a counter rose by at least O(min_increase) since
    a O(baseline)), V(present) / V(absent) (series exist or not), V(alert) (a Prometheus alert
    is inactive, pending or firing).
  - Conditions on Loki and Tempo - V(logs) (at least O(min_count) log lines match a LogQL query in
    the time window), V(traces) (at least O(min_count) traces match a TraceQL query or tags in
    the time window, or the trace O(trace_id) has at least O(min_count) spans).
  - Conditions that say which hop of a telemetry chain broke - V(datasource_health) (Grafana's own
    health check of the datasource passes), V(target_up) (a Prometheus scrape job has active
    targets and all are up), V(rule_selectors) (alert or recording rules are loaded, healthy, and
    each vector selector of theirs matches live series). Their failures name what is broken - the
    datasource and Grafana's message, the target and its scrape error, the rule or the selector and
    the label values that do exist - and their results carry the evidence for a report.
  - Queries go through Grafana's datasource proxy to the datasource's native API, see
    M(dojo.kafka_observability.grafana_query) for why.
  - Errors that waiting cannot fix (rejected credentials, missing permission, unknown
    datasource, wrong datasource type, a query the datasource rejects) fail at once. Errors that
    can pass (connection refused, timeouts, Grafana or the datasource unreachable) are retried
    until the deadline and reported if they last.
author:
  - DevSecOps Dojo (@devsecops-dojo)
extends_documentation_fragment:
  - dojo.kafka_observability.grafana
  - ansible.builtin.action_common_attributes
  - dojo.kafka_observability.grafana.datasource
  - dojo.kafka_observability.grafana.kafka_metric
attributes:
  check_mode:
    support: full
    details: Queries change nothing; check mode polls and reports exactly as a normal run.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  condition:
    description:
      - What must hold.
      - V(threshold) - the instant PromQL result compared with O(operator) to O(threshold), for
        every series, any series or their sum (O(match)). No series never passes.
      - V(increase) - the sum of the instant PromQL result (a counter) is at least O(min_increase)
        above O(baseline). A value below the baseline is taken as a counter reset (the broker
        restarted), and the whole current value counts as the increase.
      - V(present) - the PromQL query returns at least O(min_count) series.
      - V(absent) - the PromQL query returns no series.
      - V(alert) - the Prometheus alert O(alert_name), among the alerts whose labels include
        O(alert_labels), is in O(alert_state), and its rule is loaded. Read from C(api/v1/rules), so a
        rule that is not loaded fails. A datasource without the rules API (C(api/v1/rules) answers
        404) is read on C(api/v1/alerts), which lists only pending and firing alerts - there a pending
        or firing alert of that name proves its rule, but V(inactive) can never be proven and fails at
        once saying so.
      - V(logs) - a LogQL log query (stream selector and line filters) returns at least
        O(min_count) lines in the window.
      - V(traces) - a TraceQL O(query) or O(tags) search returns at least O(min_count) traces in
        the window; or, with O(trace_id), that trace is found through the Tempo datasource with at
        least O(min_count) spans (a trace not found yet is polled for until O(timeout)).
      - >-
        V(datasource_health) - Grafana's health check of the datasource (C(GET
        /api/datasources/uid/<uid>/health), what its B(Save & test) button runs) says OK. For
        Prometheus Grafana runs the instant query C(1+1), for Loki the query vector(1)+vector(1); a failure
        is reported with Grafana's own message, for example C(Post "http://10.0.0.5:9090/api/v1/query":
        dial tcp 10.0.0.5:9090: connect: connection refused - There was an error returned querying the
        Prometheus API.). A Grafana without a health check for the datasource (the API answers 404 or
        501) is checked the way the datasource tests itself, through the datasource proxy - C(1+1) on
        Prometheus, vector(1)+vector(1) on Loki, C(api/echo) on Tempo. Any datasource type.
      - V(target_up) - the scrape job O(job) (its C(job_name), optionally only the target whose
        C(instance) label is O(instance)) has at least one active target in C(api/v1/targets) of a
        Prometheus datasource, and all of them are up. A job with no active target fails as missing
        from Prometheus's configuration or without target; a target that is down fails with its
        scrape URL, Prometheus's last scrape error and how long ago the last scrape was.
      - V(rule_selectors) - the rules chosen by O(rule_group) and/or O(rule_names) are loaded
        (C(api/v1/rules)) and healthy, and each vector selector of their expressions (as Prometheus
        prints them; see the P(dojo.kafka_observability.promql_selectors#filter) filter) matches at
        least one series now (an instant C(count) of the selector). A selector that matches nothing fails with the
        values the labels it constrains do have for that metric in the last 10 minutes (for example
        the C(id) values of C(container_last_seen) when the rule names the wrong cgroup).
    type: str
    required: true
    choices: [threshold, increase, present, absent, alert, logs, traces, target_up, datasource_health, rule_selectors]
  query:
    description:
      - PromQL (V(threshold), V(increase), V(present), V(absent)), LogQL (V(logs)) or TraceQL
        (V(traces)). For PromQL conditions, O(kafka_metric) can replace it.
    type: str
  tags:
    description:
      - 'For V(traces), a Tempo tag search instead of O(query), for example C({service.name: kafka}).'
    type: dict
  trace_id:
    description:
      - For V(traces), the id of one trace to find instead of a search - 32 hexadecimal digits, the
        second field of a W3C C(traceparent) header, for example the trace id of the test messages
        that M(dojo.kafka_observability.kafka_produce) sent.
      - The trace is read through Grafana's datasource proxy from Tempo's C(api/v2/traces/<id>),
        or from C(api/traces/<id>) when the datasource does not know the v2 API (it answers that
        path with C(404 page not found)). A trace Tempo does not have yet counts as 0 spans, and
        is asked for again every O(interval) until O(timeout).
      - With O(trace_id), O(min_count) counts the spans of the trace, and O(since), O(start) and
        O(end) do not apply. Mutually exclusive with O(query) and O(tags).
    type: str
  operator:
    description: Comparison of V(threshold).
    type: str
    choices: [">", ">=", "==", "<", "<=", "!="]
    default: ">="
  threshold:
    description: The number the V(threshold) condition compares with. Required for V(threshold).
    type: float
  match:
    description:
      - How V(threshold) treats several series - V(all) must each satisfy it, V(any) one is
        enough, V(sum) compares their sum.
    type: str
    choices: [all, any, sum]
    default: all
  baseline:
    description:
      - For V(increase), the counter's value before the action, typically the
        RV(dojo.kafka_observability.grafana_query#module:value) of an earlier
        M(dojo.kafka_observability.grafana_query) of the same query, for example
        C("{{ before.value | default(0, true) }}") (a counter that did not exist yet counts as 0).
      - When not set, the value of the first poll is the baseline, which only fits when the
        action runs while this task waits (for example with C(async)).
    type: float
  min_increase:
    description: For V(increase), how much the counter must have risen.
    type: float
    default: 1
  min_count:
    description:
      - Series (V(present)), log lines (V(logs)) or traces (V(traces)) needed; with O(trace_id),
        spans of that trace.
    type: int
    default: 1
  alert_name:
    description: For V(alert), the alert rule's name, for example V(KafkaContainerDown).
    type: str
  alert_labels:
    description: 'For V(alert), labels the alert must have, for example C({service: kafka}).'
    type: dict
  alert_state:
    description: For V(alert), the state waited for.
    type: str
    choices: [inactive, pending, firing]
    default: firing
  job:
    description:
      - For V(target_up), the scrape job - its C(job_name) in Prometheus's configuration (the
        target's scrape pool, or its C(job) label), for example V(brokercontainer). Required for
        V(target_up).
    type: str
  instance:
    description:
      - For V(target_up), only the target whose C(instance) label is this, for example
        V(192.168.56.209:9882). Default every target of the job.
    type: str
  rule_group:
    description:
      - For V(rule_selectors), the rule group to check (all its rules, alerting and recording), for
        example V(kafka-alerts). With O(rule_names), only those rules of that group.
    type: str
  rule_names:
    description:
      - For V(rule_selectors), the names of the alerting (or recording) rules to check, in any loaded
        group unless O(rule_group) is given, for example V([KafkaContainerDown]). Each must be
        loaded.
    type: list
    elements: str
    aliases: [alert_names]
  since:
    description:
      - For V(logs) and V(traces) searches, the window is the last O(since) before each poll (it
        slides), unless O(start) fixes its beginning.
    type: str
    default: 5m
  start:
    description:
      - For V(logs) and V(traces), a fixed start of the window - epoch seconds, V(now-10m) (now
        being when the task starts) or RFC 3339.
    type: raw
  end:
    description:
      - For V(logs) and V(traces), a fixed end of the window. Default the time of each poll.
    type: raw
  timeout:
    description:
      - Seconds to keep polling before failing. Each poll may also take up to O(request_timeout).
    type: float
    default: 60
  interval:
    description: Seconds between two polls.
    type: float
    default: 5
"""

EXAMPLES = r"""
- name: Take a baseline of the messages Kafka has received
  dojo.kafka_observability.grafana_query:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    kafka_metric: messages
  delegate_to: localhost
  register: messages_before

# ... produce 50 messages to the notifications topic ...

- name: Kafka counted the 50 messages (kafka_message_count_total rose by 50 or more)
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    condition: increase
    kafka_metric: messages
    baseline: "{{ messages_before.value | default(0, true) }}"
    min_increase: 50
    timeout: 120
  delegate_to: localhost

- name: Consumers fetched (kafka_request_count_total{type="fetch"} > 0)
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    condition: threshold
    kafka_metric: fetch_requests
    operator: ">"
    threshold: 0
  delegate_to: localhost

- name: cAdvisor sees the kafka container
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    condition: present
    query: container_last_seen{id="/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service"}
  delegate_to: localhost

- name: KafkaContainerDown fires after the container was stopped
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    condition: alert
    alert_name: KafkaContainerDown
    alert_labels:
      service: kafka
    alert_state: firing
    timeout: 300
    interval: 10
  delegate_to: localhost
  register: alert_fired

- name: The kafka container's logs arrive in Loki
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Loki
    condition: logs
    query: '{container="kafka"}'
    since: 10m
    min_count: 1
  delegate_to: localhost

- name: Kafka's traces arrive in Tempo
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Tempo
    condition: traces
    query: '{ resource.service.name = "kafka" }'
    since: 10m
  delegate_to: localhost

- name: Grafana reaches Prometheus (what "Save & test" on the datasource says)
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    condition: datasource_health
    timeout: 0
  delegate_to: localhost

- name: Prometheus scrapes cAdvisor on the broker
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    condition: target_up
    job: brokercontainer
    instance: 192.168.56.209:9882
    timeout: 0
  delegate_to: localhost
  register: cadvisor_target
  # cadvisor_target.targets[0].last_error says why when it is down

- name: The Kafka alert rules are loaded, healthy, and select live series
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    condition: rule_selectors
    rule_group: kafka-alerts
    timeout: 0
  delegate_to: localhost
  register: kafka_rules
  # kafka_rules.unmatched_selectors lists each selector that matches nothing, with the label values
  # that do exist (for example the id values of container_last_seen)

# `produced` is the registered result of the kafka_produce task that sent the test messages
# with a W3C traceparent header
- name: The test messages' trace is in Tempo with the producer's and the consumer's spans
  dojo.kafka_observability.grafana_assert:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Tempo
    condition: traces
    trace_id: "{{ produced.trace_id }}"
    min_count: 2        # spans of that trace: send notifications, process notifications
    timeout: 120
  delegate_to: localhost
  register: trace_seen
"""

RETURN = r"""
msg:
  description: What was needed and what was observed, in one sentence.
  returned: always
  type: str
  sample: >-
    Condition increase met after 3 attempts in 10.2 s: needed an increase >= 50 since the
    baseline 100, observed 50 (now 150).
passed:
  description: Whether the condition held before the deadline (always true on success).
  returned: always
  type: bool
  sample: true
condition:
  description: The condition checked.
  returned: always
  type: str
  sample: increase
query:
  description: The query polled (the PromQL built from O(kafka_metric) when given).
  returned: when a query was run
  type: str
  sample: sum(kafka_message_count_total)
datasource:
  description: The datasource polled.
  returned: when it was found
  type: dict
  sample: {uid: thanos, name: Thanos, type: prometheus, id: 1}
observed:
  description:
    - The last observed value - the value(s) compared (V(threshold); a list when several series),
      the increase (V(increase)), the number of series, lines or traces, the number of spans of
      the trace O(trace_id) (0 while it is not found), the alert state (V(unknown) when it cannot
      be told), Grafana's health status (V(datasource_health) - V(OK), V(ERROR)), how many of the
      job's targets are up (V(target_up), for example V(1 of 2 up), or V(no active target)), or
      how many selectors match series (V(rule_selectors), for example V(3 of 4 selectors match
      series), or V(not loaded)).
  returned: always
  type: raw
  sample: 50.0
attempts:
  description: Number of polls made.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds spent polling.
  returned: always
  type: float
  sample: 10.2
series:
  description:
    - The series of the last poll (labels, value, timestamp, values), as in
      M(dojo.kafka_observability.grafana_query).
  returned: for V(threshold), V(increase), V(present), V(absent)
  type: list
  elements: dict
  sample: [{labels: {job: kafka}, value: 150.0, timestamp: 1777630000.0, values: [[1777630000.0, 150.0]]}]
baseline:
  description: The baseline of V(increase) (O(baseline), or the first poll's value).
  returned: for V(increase)
  type: float
  sample: 100.0
baseline_source:
  description: V(parameter) when O(baseline) was given, V(first_poll) otherwise.
  returned: for V(increase)
  type: str
  sample: parameter
current:
  description: The counter's value at the last poll.
  returned: for V(increase)
  type: float
  sample: 150.0
increase:
  description: The increase observed at the last poll.
  returned: for V(increase)
  type: float
  sample: 50.0
counter_reset:
  description: Whether the counter was below the baseline at the last poll (taken as a reset).
  returned: for V(increase)
  type: bool
  sample: false
state:
  description: The alert's state at the last poll, V(inactive), V(pending) or V(firing).
  returned: for V(alert)
  type: str
  sample: firing
alerts:
  description: The alerts of that rule whose labels include O(alert_labels), at the last poll.
  returned: for V(alert)
  type: list
  elements: dict
  sample:
    - labels: {alertname: KafkaContainerDown, severity: critical}
      annotations: {summary: Le conteneur kafka ne répond plus}
      state: firing
      active_at: "2026-05-01T10:00:00Z"
      value: "4.5e+01"
rule_found:
  description:
    - Whether an alerting rule of that name is loaded. Without the rules API, true when a pending or
      firing alert of that name proves it, null otherwise (it cannot be told).
  returned: for V(alert)
  type: bool
  sample: true
health:
  description:
    - Grafana's answer about the datasource - C(status) (V(OK) or V(ERROR)), C(message) (Grafana's
      own words), C(details) (what Grafana adds, for example the Prometheus flavour; may be null),
      C(checked_with) (V(health_api), or V(datasource_proxy) when Grafana has no health check for
      the datasource and its own test was run through the proxy). Null when Grafana can check
      neither way.
  returned: for V(datasource_health), when Grafana answered
  type: dict
  sample:
    status: ERROR
    message: >-
      Post "http://10.0.0.5:9090/api/v1/query": dial tcp 10.0.0.5:9090: connect: connection refused -
      There was an error returned querying the Prometheus API.
    details: null
    checked_with: health_api
job:
  description: The scrape job checked (O(job)).
  returned: for V(target_up)
  type: str
  sample: brokercontainer
instance:
  description: The instance checked (O(instance)), null for every target of the job.
  returned: for V(target_up)
  type: str
  sample: null
targets:
  description:
    - The job's active targets at the last poll - C(job), C(instance), C(scrape_url), C(health)
      (V(up), V(down) or V(unknown) before the first scrape), C(last_error) (Prometheus's scrape
      error, empty when up), C(last_scrape) (RFC 3339), C(last_scrape_seconds_ago) (null when never
      scraped), C(labels) (the target's labels).
  returned: for V(target_up)
  type: list
  elements: dict
  sample:
    - job: brokercontainer
      instance: 192.168.56.209:9882
      scrape_url: http://192.168.56.209:9882/metrics
      health: down
      last_error: 'Get "http://192.168.56.209:9882/metrics": dial tcp 192.168.56.209:9882: connect: connection refused'
      last_scrape: "2026-05-01T10:00:00.123456789Z"
      last_scrape_seconds_ago: 4.2
      labels: {instance: "192.168.56.209:9882", job: brokercontainer}
rules:
  description:
    - The rules checked at the last poll - C(name), C(group), C(type) (V(alerting) or V(recording)),
      C(health) (V(ok), V(err), V(unknown)), C(last_error), C(query) (the expression as Prometheus
      prints it), and C(selectors) - each vector selector of the expression with C(selector) (its
      text), C(metric), C(matchers) (C(name), C(op), C(value)), C(series) (how many series it
      matches now) and C(label_values) (for a selector that matches nothing, the values its labels
      have for that metric in the last 10 minutes; null otherwise).
  returned: for V(rule_selectors)
  type: list
  elements: dict
  sample:
    - name: KafkaContainerDown
      group: kafka-alerts
      type: alerting
      health: ok
      last_error: ""
      query: >-
        (time() - container_last_seen{id="/user.slice/user-1001.slice/user@1001.service/app.slice/kafka.service"}) > 30
      selectors:
        - selector: container_last_seen{id="/user.slice/user-1001.slice/user@1001.service/app.slice/kafka.service"}
          metric: container_last_seen
          matchers: [{name: id, op: "=", value: /user.slice/user-1001.slice/user@1001.service/app.slice/kafka.service}]
          series: 0
          label_values:
            id: [/, /user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service]
unmatched_selectors:
  description:
    - The selectors that match no series at the last poll, with their C(rule), C(selector) and
      C(label_values) (as in RV(rules)); empty when all match.
  returned: for V(rule_selectors)
  type: list
  elements: dict
  sample:
    - rule: KafkaContainerDown
      selector: container_last_seen{id="/user.slice/user-1001.slice/user@1001.service/app.slice/kafka.service"}
      label_values:
        id: [/, /user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service]
lines:
  description: The log lines of the last poll (at most O(min_count)), as in M(dojo.kafka_observability.grafana_query).
  returned: for V(logs)
  type: list
  elements: dict
  sample:
    - labels: {container: kafka}
      timestamp: "2026-05-01T10:00:00.000000000Z"
      timestamp_ns: 1777629600000000000
      line: started
traces:
  description: The traces of the last poll, as in M(dojo.kafka_observability.grafana_query).
  returned: for V(traces) with O(query) or O(tags)
  type: list
  elements: dict
  sample: [{trace_id: 5b8efff798038103d269b633813fc60c, root_service: kafka, root_name: publish, duration_ms: 5}]
trace_id:
  description: The trace looked up (O(trace_id) in lower case).
  returned: for V(traces) with O(trace_id)
  type: str
  sample: 5b8efff798038103d269b633813fc60c
found:
  description: Whether Tempo had the trace at the last poll.
  returned: for V(traces) with O(trace_id)
  type: bool
  sample: true
spans:
  description:
    - The spans of the trace at the last poll, oldest first, as in
      M(dojo.kafka_observability.grafana_query) - C(service) (its resource's C(service.name)),
      C(name), C(kind) and C(status) in TraceQL's words, C(span_id), C(parent_span_id) (null for
      a root span), C(parent) (the parent span's name when it is in the trace), C(start),
      C(start_unix_nano), C(duration_ms).
  returned: for V(traces) with O(trace_id)
  type: list
  elements: dict
  sample:
    - service: kafka-verification
      name: send notifications
      kind: producer
      status: unset
      span_id: eee19b7ec3c1b174
      parent_span_id: null
      parent: null
      start: "2026-05-01T10:00:00.000000000Z"
      start_unix_nano: 1777629600000000000
      duration_ms: 12.5
    - service: kafka-verification
      name: process notifications
      kind: consumer
      status: unset
      span_id: 0f1e2d3c4b5a6978
      parent_span_id: eee19b7ec3c1b174
      parent: send notifications
      start: "2026-05-01T10:00:00.120000000Z"
      start_unix_nano: 1777629600120000000
      duration_ms: 3.1
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dojo.kafka_observability.plugins.module_utils.grafana import (
    DATASOURCE_MUTUALLY_EXCLUSIVE,
    DATASOURCE_REQUIRED_ONE_OF,
    GRAFANA_MUTUALLY_EXCLUSIVE,
    GRAFANA_REQUIRED_TOGETHER,
    GrafanaClient,
    GrafanaError,
    datasource_argument_spec,
    ds_summary,
    grafana_argument_spec,
    normalize_trace_id,
    now,
    parse_time,
    query_argument_spec,
)
from ansible_collections.dojo.kafka_observability.plugins.module_utils.grafana_checks import (
    check_absent,
    check_alert,
    check_count,
    check_datasource_health,
    check_increase,
    check_present,
    check_spans,
    check_target_up,
    check_threshold,
    evaluate_rule_selectors,
    language_of_condition,
    poll,
    query_text,
    run_query,
)

PROMQL_CONDITIONS = ("threshold", "increase", "present", "absent")
# conditions that read an API of Prometheus or Grafana, not a query
API_CONDITIONS = {
    "alert": "reads the alert rules; it takes alert_name",
    "target_up": "reads Prometheus's scrape targets; it takes job (and instance)",
    "datasource_health": "asks Grafana for the datasource's health; it takes the datasource only",
    "rule_selectors": "reads the loaded rules; it takes rule_group and/or rule_names",
}


class Assertion:
    """The state kept between polls (the datasource, the baseline) and one poll."""

    def __init__(self, client, params, started):
        self.client = client
        self.params = params
        self.condition = params["condition"]
        self.language = language_of_condition(self.condition)
        self.ds = None
        self.baseline = params["baseline"]
        self.baseline_source = "parameter" if self.baseline is not None else "first_poll"
        self.query = query_text(params) if self.condition not in API_CONDITIONS else None
        # fixed window bounds are resolved once, against the time the task started
        self.start = parse_time(params["start"], started, "start")
        self.end = parse_time(params["end"], started, "end")

    def datasource(self):
        if self.ds is None:
            self.ds = self.client.resolve_datasource(
                name=self.params["datasource"], uid=self.params["datasource_uid"], language=self.language
            )
        return self.ds

    def query_params(self, **extra):
        params = dict(self.params)
        params.update(start=self.start, end=self.end, time=None, step=None, direction="backward")
        params.update(extra)
        return params

    def __call__(self):
        ds = self.datasource()
        p = self.params
        moment = now()
        if self.condition == "alert":
            groups = self.client.prometheus_rule_groups(ds, "alert")
            if groups is not None:
                return check_alert(groups, True, p["alert_name"], p["alert_labels"], p["alert_state"])
            alerts = self.client.prometheus_alerts(ds)
            reason = "datasource '%s' has no rules API (api/v1/rules answered 404 Not Found)" % ds.get("name")
            return check_alert(alerts, False, p["alert_name"], p["alert_labels"], p["alert_state"], no_rules_api=reason)
        if self.condition == "target_up":
            return check_target_up(self.client.prometheus_targets(ds), p["job"], p["instance"], moment)
        if self.condition == "datasource_health":
            health = self.client.datasource_health(ds)
            if health["available"]:
                return check_datasource_health(health, ds)
            tested = self.client.datasource_test(ds)
            return check_datasource_health(tested, ds, via_test=True, api_status=health["api_status"])
        if self.condition == "rule_selectors":
            return evaluate_rule_selectors(self.client, ds, p["rule_group"], p["rule_names"], moment)
        if self.condition in PROMQL_CONDITIONS:
            result = run_query(self.client, ds, "promql", self.query_params(query_type="instant"), moment)
            if self.condition == "threshold":
                return check_threshold(result, p["operator"], p["threshold"], p["match"])
            if self.condition == "present":
                return check_present(result, p["min_count"])
            if self.condition == "absent":
                return check_absent(result)
            if self.baseline is None:
                if result["value"] is not None and not isinstance(result["value"], (int, float)):
                    return check_increase(result, 0.0, p["min_increase"])
                self.baseline = float(result["value"] or 0.0)
            return check_increase(result, self.baseline, p["min_increase"])
        if self.condition == "logs":
            result = run_query(
                self.client, ds, "logql", self.query_params(query_type="range", limit=max(p["min_count"], 1)), moment
            )
            return check_count(result, p["min_count"], "lines")
        result = run_query(self.client, ds, "traceql", self.query_params(limit=max(p["min_count"], 20)), moment)
        if p["trace_id"]:
            return check_spans(result, p["min_count"])
        return check_count(result, p["min_count"], "traces")


def validate(params):
    condition = params["condition"]
    if params["timeout"] < 0 or params["interval"] <= 0:
        raise GrafanaError("timeout must be >= 0 and interval > 0 (seconds).", "invalid_argument")
    if condition in PROMQL_CONDITIONS and not (params["query"] or params["kafka_metric"]):
        raise GrafanaError("condition=%s needs a PromQL query or kafka_metric." % condition, "invalid_argument")
    if condition not in PROMQL_CONDITIONS and params["kafka_metric"]:
        raise GrafanaError("kafka_metric only applies to threshold, increase, present and absent.", "invalid_argument")
    if params["tags"] and condition != "traces":
        raise GrafanaError("tags only applies to condition=traces.", "invalid_argument")
    if params["trace_id"] is not None:
        if condition != "traces":
            raise GrafanaError("trace_id only applies to condition=traces.", "invalid_argument")
        params["trace_id"] = normalize_trace_id(params["trace_id"])
    if condition == "logs":
        if not params["query"]:
            raise GrafanaError("condition=logs needs a LogQL query.", "invalid_argument")
        if not params["query"].lstrip().startswith("{"):
            raise GrafanaError(
                "condition=logs needs a LogQL log query - a stream selector such as %s with optional line "
                "filters - not a metric query such as count_over_time(...)." % '{container="kafka"}',
                "invalid_argument",
            )
    if condition == "traces" and not (params["query"] or params["tags"] or params["trace_id"]):
        raise GrafanaError("condition=traces needs a TraceQL query, tags or a trace_id.", "invalid_argument")
    if condition in API_CONDITIONS and params["query"]:
        raise GrafanaError("condition=%s %s, not query." % (condition, API_CONDITIONS[condition]), "invalid_argument")
    if condition != "target_up" and (params["job"] or params["instance"]):
        raise GrafanaError("job and instance only apply to condition=target_up.", "invalid_argument")
    if condition != "rule_selectors" and (params["rule_group"] or params["rule_names"]):
        raise GrafanaError("rule_group and rule_names only apply to condition=rule_selectors.", "invalid_argument")
    if condition == "rule_selectors" and not (params["rule_group"] or params["rule_names"]):
        raise GrafanaError(
            "condition=rule_selectors needs rule_group, rule_names (a non-empty list) or both.", "invalid_argument"
        )


def main():
    argument_spec = grafana_argument_spec()
    argument_spec.update(datasource_argument_spec())
    argument_spec.update(query_argument_spec())
    argument_spec.update(
        condition=dict(
            type="str",
            required=True,
            choices=[
                "threshold",
                "increase",
                "present",
                "absent",
                "alert",
                "logs",
                "traces",
                "target_up",
                "datasource_health",
                "rule_selectors",
            ],
        ),
        operator=dict(type="str", choices=[">", ">=", "==", "<", "<=", "!="], default=">="),
        threshold=dict(type="float"),
        match=dict(type="str", choices=["all", "any", "sum"], default="all"),
        baseline=dict(type="float"),
        min_increase=dict(type="float", default=1.0),
        min_count=dict(type="int", default=1),
        alert_name=dict(type="str"),
        alert_labels=dict(type="dict"),
        alert_state=dict(type="str", choices=["inactive", "pending", "firing"], default="firing"),
        job=dict(type="str"),
        instance=dict(type="str"),
        rule_group=dict(type="str"),
        rule_names=dict(type="list", elements="str", aliases=["alert_names"]),
        since=dict(type="str", default="5m"),
        start=dict(type="raw"),
        end=dict(type="raw"),
        timeout=dict(type="float", default=60.0),
        interval=dict(type="float", default=5.0),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=GRAFANA_MUTUALLY_EXCLUSIVE
        + DATASOURCE_MUTUALLY_EXCLUSIVE
        + [("query", "kafka_metric", "tags", "trace_id")],
        required_together=GRAFANA_REQUIRED_TOGETHER,
        required_one_of=DATASOURCE_REQUIRED_ONE_OF,
        required_if=[
            ("condition", "threshold", ("threshold",)),
            ("condition", "alert", ("alert_name",)),
            ("condition", "target_up", ("job",)),
            ("condition", "rule_selectors", ("rule_group", "rule_names"), True),
        ],
        required_by={"kafka_labels": "kafka_metric"},
        supports_check_mode=True,
    )
    params = module.params
    condition = params["condition"]
    base = {"changed": False, "condition": condition, "passed": False, "attempts": 0, "elapsed": 0.0, "observed": None}
    try:
        validate(params)
        client = GrafanaClient(params)
        assertion = Assertion(client, params, now())
    except GrafanaError as exc:
        base.update(exc.as_result())
        module.fail_json(msg=exc.msg, **base)
    if assertion.query is not None:
        base["query"] = assertion.query

    try:
        outcome = poll(assertion, params["timeout"], params["interval"])
    except GrafanaError as exc:
        outcome = getattr(exc, "outcome", None)
        if outcome is not None:
            base.update(attempts=outcome.attempts, elapsed=round(outcome.elapsed, 3))
        if assertion.ds is not None:
            base["datasource"] = ds_summary(assertion.ds)
        base.update(exc.as_result())
        module.fail_json(msg=exc.msg, **base)

    result = dict(base)
    result.update(attempts=outcome.attempts, elapsed=round(outcome.elapsed, 3))
    if assertion.ds is not None:
        result["datasource"] = ds_summary(assertion.ds)
    observation = outcome.observation
    if observation is not None:
        result["observed"] = observation.observed
        result.update(observation.facts)
    if condition == "increase":
        result.update(baseline=assertion.baseline, baseline_source=assertion.baseline_source)
    where = ""
    if assertion.ds is not None:
        where = " on datasource '%s'" % assertion.ds.get("name")
    what = "query %r%s" % (assertion.query, where) if assertion.query else "alert rules%s" % where
    if condition == "target_up":
        what = "scrape targets%s" % where
    elif condition == "datasource_health":
        name = assertion.ds.get("name") if assertion.ds is not None else params["datasource"]
        what = "health of datasource '%s'" % name if name else "health of datasource uid %s" % params["datasource_uid"]
    elif condition == "rule_selectors":
        chosen = []
        if params["rule_group"]:
            chosen.append("group %s" % params["rule_group"])
        if params["rule_names"]:
            chosen.append(", ".join(params["rule_names"]))
        what = "rules %s%s" % (" / ".join(chosen), where)
    if condition == "traces" and params["trace_id"]:
        what = "trace %s looked up by id%s" % (params["trace_id"], where)
    elif condition == "traces" and not assertion.query:
        what = "tags %s%s" % (params["tags"], where)

    if outcome.met:
        result["passed"] = True
        result["msg"] = "Condition %s met after %d attempt%s in %.1f s: %s." % (
            condition,
            outcome.attempts,
            "" if outcome.attempts == 1 else "s",
            outcome.elapsed,
            observation.description,
        )
        module.exit_json(**result)

    if observation is not None:
        detail = observation.description
        if outcome.last_error is not None:
            detail += "; the last poll then failed: %s" % outcome.last_error.msg
    else:
        detail = "every poll failed, the last one with: %s" % outcome.last_error.msg
        result.update(outcome.last_error.as_result())
    result["msg"] = "Condition %s not met within %s s (%d attempt%s): %s; %s." % (
        condition,
        ("%g" % params["timeout"]),
        outcome.attempts,
        "" if outcome.attempts == 1 else "s",
        detail.rstrip("."),
        what,
    )
    module.fail_json(**result)


if __name__ == "__main__":
    main()
