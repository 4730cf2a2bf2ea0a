#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: grafana_query
short_description: Run a PromQL, LogQL or TraceQL query through a Grafana datasource
version_added: 0.1.0
description:
  - Runs one query through a datasource of Grafana, as the Explore page does, and returns the
    result normalized - series with labels and values for PromQL (Prometheus or Thanos) and
    LogQL metric queries, log lines with labels and timestamps for LogQL log queries, traces
    with id, root service, start and duration for TraceQL or tag searches (Tempo), and the spans
    of one trace looked up by its O(trace_id) (Tempo).
  - The datasource is found by name or UID, and its type is checked against the query language
    (V(prometheus) for PromQL, V(loki) for LogQL, V(tempo) for TraceQL).
  - "How it queries: through Grafana's datasource proxy,
    C(/api/datasources/proxy/uid/<uid>/<native path>), which forwards to the native HTTP API of
    the datasource (Prometheus/Thanos C(api/v1/query), C(api/v1/query_range), C(api/v1/rules);
    Loki C(loki/api/v1/query_range); Tempo C(api/search), C(api/v2/traces/<id>)). It was chosen
    over C(/api/ds/query) because the native answers are documented, stable and the same Grafana
    version after version (C(/api/ds/query) returns Grafana's internal data frames, whose layout
    changes); because the alert state a Prometheus datasource evaluates (C(api/v1/rules),
    C(api/v1/alerts)) is only reachable that way; and because the datasource's own error text (a
    PromQL, LogQL or TraceQL parse error) comes back verbatim. Grafana still checks the
    credentials and permissions, so the result is what the user would see in Explore."
  - Use M(dojo.kafka_observability.grafana_assert) to wait for a condition on the result.
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
    details: Queries change nothing; check mode runs the query and returns its result.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  query:
    description:
      - The query - PromQL for a Prometheus-type datasource, LogQL for Loki, TraceQL for Tempo.
      - One of O(query), O(kafka_metric), O(tags) or O(trace_id) is required.
    type: str
  tags:
    description:
      - 'Tempo tag search instead of a TraceQL O(query), for example C({service.name: kafka}).
        Every tag must match the same span (Tempo runs it as C({ .service.name = "kafka" })).'
    type: dict
  trace_id:
    description:
      - Tempo only, the id of one trace to read instead of a search - 32 hexadecimal digits (the
        second field of a W3C C(traceparent) header). Returns its spans in RV(spans).
      - Read from Tempo's C(api/v2/traces/<id>), or C(api/traces/<id>) when the datasource does not
        know the v2 API (it answers that path with C(404 page not found)). A trace Tempo does not
        have is not an error - RV(found) is false and RV(spans) empty.
      - The time window (O(since), O(start), O(end)) does not apply.
    type: str
  language:
    description:
      - Query language. When not set, it follows the datasource type (V(promql) for
        V(prometheus), V(logql) for V(loki), V(traceql) for V(tempo)); when set, a datasource of
        another type is an error.
    type: str
    choices: [promql, logql, traceql]
  query_type:
    description:
      - V(instant) evaluates a PromQL or LogQL metric query at O(time); V(range) evaluates it from
        O(start) to O(end) every O(step).
      - Default V(instant) for PromQL and LogQL metric queries, V(range) for LogQL log queries
        (Loki answers those only as range queries). Ignored for Tempo.
    type: str
    choices: [instant, range]
  time:
    description:
      - Evaluation time of an instant query. Epoch seconds, V(now), V(now-5m) or RFC 3339. Default now.
    type: raw
  start:
    description:
      - Start of the time window (range queries, logs, traces). Same formats as O(time).
      - Default O(end) minus O(since).
    type: raw
  end:
    description:
      - End of the time window. Same formats as O(time). Default now.
    type: raw
  since:
    description:
      - Length of the time window ending at O(end) when O(start) is not given, for example V(5m).
    type: str
    default: 1h
  step:
    description:
      - Resolution of a range query, for example V(15s). Default about 250 points, at least 1 second.
    type: str
  limit:
    description:
      - Maximum number of log lines (Loki, default 100) or traces (Tempo, default 20) to return.
    type: int
  direction:
    description:
      - Order of log lines, newest first (V(backward)) or oldest first (V(forward)). Loki applies
        O(limit) in this order.
    type: str
    choices: [backward, forward]
    default: backward
  min_duration:
    description:
      - Tempo only, only traces at least this long, for example V(100ms).
    type: str
  max_duration:
    description:
      - Tempo only, only traces at most this long.
    type: str
"""

EXAMPLES = r"""
- name: Take a baseline of the messages Kafka has received
  dojo.kafka_observability.grafana_query:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    kafka_metric: messages   # sum(kafka_message_count_total)
  delegate_to: localhost
  register: messages_before

- name: Produce requests per second over the last 15 minutes
  dojo.kafka_observability.grafana_query:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Thanos
    query: sum(rate(kafka_request_count_total{type="produce"}[1m]))
    query_type: range
    since: 15m
    step: 30s
  delegate_to: localhost
  register: produce_rate

- name: The last 20 error lines of the kafka container
  dojo.kafka_observability.grafana_query:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Loki
    query: '{container="kafka"} |~ "ERROR|WARN"'
    since: 30m
    limit: 20
  delegate_to: localhost
  register: kafka_errors

- name: Traces of the kafka service in the last 10 minutes
  dojo.kafka_observability.grafana_query:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Tempo
    query: '{ resource.service.name = "kafka" }'
    since: 10m
  delegate_to: localhost
  register: kafka_traces

- name: The spans of one trace (found is false while Tempo does not have it)
  dojo.kafka_observability.grafana_query:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_token }}"
    datasource: Tempo
    trace_id: 5b8efff798038103d269b633813fc60c
  delegate_to: localhost
  register: one_trace
"""

RETURN = r"""
datasource:
  description: The datasource queried.
  returned: success
  type: dict
  sample: {uid: thanos, name: Thanos, type: prometheus, id: 1}
language:
  description: The query language used, V(promql), V(logql) or V(traceql).
  returned: success
  type: str
  sample: promql
query:
  description:
    - The query sent (the PromQL built from O(kafka_metric) when that was given; empty for a tag
      search or a trace looked up by O(trace_id)).
  returned: success
  type: str
  sample: sum(kafka_message_count_total)
query_type:
  description: V(instant), V(range) or, for Tempo, V(search) or V(trace) (a trace looked up by O(trace_id)).
  returned: success
  type: str
  sample: instant
result_type:
  description:
    - The datasource's result type, V(vector), V(matrix), V(scalar), V(string), V(streams), V(traces)
      or V(trace) (O(trace_id)).
  returned: success
  type: str
  sample: vector
time:
  description: Evaluation time of an instant query (RFC 3339, UTC).
  returned: for instant queries
  type: str
  sample: "2026-05-01T10:00:00.000000000Z"
start:
  description: Start of the time window (RFC 3339, UTC).
  returned: for range queries, logs and traces
  type: str
  sample: "2026-05-01T09:00:00.000000000Z"
end:
  description: End of the time window (RFC 3339, UTC).
  returned: for range queries, logs and traces
  type: str
  sample: "2026-05-01T10:00:00.000000000Z"
step:
  description: Resolution of a PromQL range query in seconds.
  returned: for PromQL range queries
  type: float
  sample: 15.0
series:
  description:
    - Series of a PromQL or LogQL metric query, with their labels, last value and timestamp, and
      every C([timestamp, value]) pair (one for an instant query).
    - Values are numbers; NaN and infinities are the strings V(NaN), V(+Inf), V(-Inf).
  returned: for PromQL and LogQL metric queries
  type: list
  elements: dict
  sample:
    - labels: {job: kafka, instance: "192.168.56.209:9464"}
      value: 150.0
      timestamp: 1777630000.0
      values: [[1777630000.0, 150.0]]
value:
  description:
    - Sum of the last value of every series, null when there is no series. With O(kafka_metric)
      (already a sum) it is the metric's value, ready to use as a baseline.
  returned: for PromQL and LogQL metric queries
  type: float
  sample: 150.0
datasource_warnings:
  description: Warnings the Prometheus-type datasource returned with the result (Thanos adds some).
  returned: for PromQL queries
  type: list
  elements: str
  sample: []
lines:
  description: Log lines, each with its stream labels, timestamp (RFC 3339 and nanoseconds) and text.
  returned: for LogQL log queries
  type: list
  elements: dict
  sample:
    - labels: {container: kafka, job: podman}
      timestamp: "2026-05-01T09:59:58.123456789Z"
      timestamp_ns: 1777629598123456789
      line: "[2026-05-01 09:59:58,123] INFO [Partition notifications-0] ..."
traces:
  description: Traces found, newest first.
  returned: for Tempo searches
  type: list
  elements: dict
  sample:
    - trace_id: 5b8efff798038103d269b633813fc60c
      root_service: kafka
      root_name: notifications publish
      start: "2026-05-01T09:59:58.000000000Z"
      start_unix_nano: 1777629598000000000
      duration_ms: 5
      matched_spans: 1
tags:
  description: The tags of a Tempo tag search.
  returned: for Tempo tag searches
  type: dict
  sample: {service.name: kafka}
trace_id:
  description: The trace looked up (O(trace_id) in lower case).
  returned: with O(trace_id)
  type: str
  sample: 5b8efff798038103d269b633813fc60c
trace_api:
  description: The Tempo API that answered, V(api/v2/traces) or V(api/traces).
  returned: with O(trace_id)
  type: str
  sample: api/v2/traces
found:
  description: Whether Tempo has the trace.
  returned: with O(trace_id)
  type: bool
  sample: true
spans:
  description:
    - The spans of the trace, oldest first - C(service) (its resource's C(service.name)), C(name),
      C(kind) (V(producer), V(consumer), V(server), V(client), V(internal) or V(unspecified), as
      TraceQL names them), C(status) (V(unset), V(ok), V(error)), C(span_id), C(parent_span_id)
      (null for a root span), C(parent) (the parent span's name when it is in the trace), C(start),
      C(start_unix_nano), C(duration_ms).
    - Tempo's own answer writes ids in base64 and kinds as C(SPAN_KIND_*); they are given here as
      hex and TraceQL words.
  returned: with O(trace_id)
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
count:
  description: Number of series, log lines, traces or (with O(trace_id)) spans returned.
  returned: success
  type: int
  sample: 1
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
    query_argument_spec,
)
from ansible_collections.dojo.kafka_observability.plugins.module_utils.grafana_checks import (
    resolve_language,
    run_query,
)


def main():
    argument_spec = grafana_argument_spec()
    argument_spec.update(datasource_argument_spec())
    argument_spec.update(query_argument_spec())
    argument_spec.update(
        language=dict(type="str", choices=["promql", "logql", "traceql"]),
        query_type=dict(type="str", choices=["instant", "range"]),
        time=dict(type="raw"),
        start=dict(type="raw"),
        end=dict(type="raw"),
        since=dict(type="str", default="1h"),
        step=dict(type="str"),
        limit=dict(type="int"),
        direction=dict(type="str", choices=["backward", "forward"], default="backward"),
        min_duration=dict(type="str"),
        max_duration=dict(type="str"),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=GRAFANA_MUTUALLY_EXCLUSIVE
        + DATASOURCE_MUTUALLY_EXCLUSIVE
        + [("query", "kafka_metric", "tags", "trace_id")],
        required_together=GRAFANA_REQUIRED_TOGETHER,
        required_one_of=[*DATASOURCE_REQUIRED_ONE_OF, ("query", "kafka_metric", "tags", "trace_id")],
        required_by={"kafka_labels": "kafka_metric"},
        supports_check_mode=True,
    )
    params = module.params
    try:
        client = GrafanaClient(params)
        language = params["language"]
        if params["kafka_metric"] and language not in (None, "promql"):
            raise GrafanaError("kafka_metric is a PromQL query: language must be promql.", "invalid_argument")
        if params["tags"] and language not in (None, "traceql"):
            raise GrafanaError("tags is a Tempo tag search: language must be traceql.", "invalid_argument")
        if params["trace_id"] is not None:
            if language not in (None, "traceql"):
                raise GrafanaError("trace_id is a Tempo trace lookup: language must be traceql.", "invalid_argument")
            params["trace_id"] = normalize_trace_id(params["trace_id"])
        ds, language = resolve_language(client, params, language)
        result = run_query(client, ds, language, params, now())
    except GrafanaError as exc:
        module.fail_json(msg=exc.msg, **exc.as_result())
    for warning in result.get("datasource_warnings") or []:
        module.warn("Datasource '%s' warned: %s" % (ds.get("name"), warning))
    module.exit_json(changed=False, datasource=ds_summary(ds), **result)


if __name__ == "__main__":
    main()
