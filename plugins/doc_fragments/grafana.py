# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The connection to Grafana, shared by every grafana_* module.
    DOCUMENTATION = r"""
options:
  grafana_url:
    description:
      - Base URL of Grafana, for example C(http://192.168.56.211:3000).
      - If not set, the environment variable E(GRAFANA_URL) is used.
    type: str
    required: true
    aliases: [url]
  grafana_token:
    description:
      - "Service account token, sent as C(Authorization: Bearer <token>)."
      - Never shown in the output, in error messages or in logs.
      - If not set, the environment variable E(GRAFANA_TOKEN) is used.
      - Mutually exclusive with O(grafana_user) and O(grafana_password).
    type: str
    aliases: [token]
  grafana_user:
    description:
      - Login for basic authentication, used with O(grafana_password).
      - If not set, the environment variable E(GRAFANA_USER) is used.
    type: str
  grafana_password:
    description:
      - Password for basic authentication, used with O(grafana_user). Never shown.
      - If not set, the environment variable E(GRAFANA_PASSWORD) is used.
    type: str
  org_id:
    description:
      - Grafana organization to work in, sent as the C(X-Grafana-Org-Id) header.
      - When not set, Grafana uses the current organization of the credentials.
    type: int
  validate_certs:
    description:
      - Verify Grafana's TLS certificate. Set to V(false) only in a lab.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the certificate authority that signed Grafana's certificate.
    type: path
  request_timeout:
    description:
      - Seconds to wait for each HTTP answer from Grafana.
    type: float
    default: 30
notes:
  - Every failure is reported in one sentence that names its cause - connection refused, DNS,
    TLS, timeout, rejected credentials (401), missing permission (403), unknown datasource
    (404), a query the datasource rejected (400, with the datasource's own error text) or a
    datasource Grafana cannot reach (502/504).
  - "Needs no Python library on the managed host besides ansible-core's own
    (C(ansible.module_utils.urls)); usually run on the controller with C(delegate_to: localhost)."
"""

    # Which datasource to query.
    DATASOURCE = r"""
options:
  datasource:
    description:
      - Name of the datasource as Grafana shows it, for example V(Thanos), V(Loki) or V(Tempo).
      - Looked up with C(GET /api/datasources/name/<name>), which needs the C(datasources:read)
        permission.
      - Exactly one of O(datasource) and O(datasource_uid) is required.
    type: str
    aliases: [datasource_name]
  datasource_uid:
    description:
      - UID of the datasource, looked up with C(GET /api/datasources/uid/<uid>).
    type: str
"""

    # Named Kafka metrics of the OpenTelemetry JMX Kafka target.
    KAFKA_METRIC = r"""
options:
  kafka_metric:
    description:
      - Instead of O(query), one of the Kafka metrics of the OpenTelemetry JMX Kafka target, summed
        over its series. V(messages) is C(sum(kafka_message_count_total)), V(produce_requests) is
        C(sum(kafka_request_count_total{type="produce"})), V(fetch_requests) is
        C(sum(kafka_request_count_total{type="fetch"})), V(failed_produce_requests) and
        V(failed_fetch_requests) use C(kafka_request_failed_total), V(network_io_bytes) is
        C(kafka_network_io_bytes_total), V(partitions), V(offline_partitions),
        V(under_replicated_partitions), V(request_queue) and V(purgatory_size) are the
        C(kafka_partition_*), C(kafka_request_queue) and C(kafka_purgatory_size) gauges.
      - Only for Prometheus-type datasources.
    type: str
    choices:
      - messages
      - produce_requests
      - fetch_requests
      - failed_produce_requests
      - failed_fetch_requests
      - network_io_bytes
      - partitions
      - offline_partitions
      - under_replicated_partitions
      - request_queue
      - purgatory_size
  kafka_labels:
    description:
      - 'Extra label matchers (equality) added to O(kafka_metric), for example
        C({job: kafka, instance: "192.168.56.209:9464"}).'
    type: dict
"""
