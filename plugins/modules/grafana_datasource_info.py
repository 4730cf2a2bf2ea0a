#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: grafana_datasource_info
short_description: List Grafana datasources, or get one, as data
version_added: 0.1.0
description:
  - Reads the datasources of a Grafana organization through Grafana's HTTP API
    (C(GET /api/datasources), C(/api/datasources/name/<name>) or C(/api/datasources/uid/<uid>)).
  - Returns them as Grafana describes them (C(uid), C(name), C(type), C(url), C(access),
    C(isDefault), C(jsonData), ...), without any password field an old Grafana might include.
author:
  - DevSecOps Dojo (@devsecops-dojo)
extends_documentation_fragment:
  - dojo.kafka_observability.grafana
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Only reads; check mode runs the same requests.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  name:
    description:
      - Name of one datasource to return. Fails when Grafana has no datasource of that name.
      - Mutually exclusive with O(uid).
    type: str
  uid:
    description:
      - UID of one datasource to return. Fails when Grafana has no datasource with that UID.
    type: str
  type:
    description:
      - Only return datasources of this type, for example V(prometheus), V(loki) or V(tempo).
      - With O(name) or O(uid), fail when the datasource is of another type.
    type: str
"""

EXAMPLES = r"""
- name: List every datasource of the current organization
  dojo.kafka_observability.grafana_datasource_info:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_service_account_token }}"
  delegate_to: localhost
  register: grafana_datasources

- name: Check that Thanos is a Prometheus-type datasource
  dojo.kafka_observability.grafana_datasource_info:
    grafana_url: http://192.168.56.211:3000
    grafana_token: "{{ grafana_service_account_token }}"
    name: Thanos
    type: prometheus
  delegate_to: localhost
  register: thanos

- name: Show where Grafana sends the Thanos queries
  ansible.builtin.debug:
    msg: "{{ thanos.datasource.url }}"
"""

RETURN = r"""
datasources:
  description: The datasources found (one element when O(name) or O(uid) is given), as Grafana returns them.
  returned: success
  type: list
  elements: dict
  sample:
    - id: 1
      uid: thanos
      orgId: 1
      name: Thanos
      type: prometheus
      access: proxy
      url: http://127.0.0.1:10902
      isDefault: true
      basicAuth: false
      jsonData: {}
datasource:
  description: The datasource asked for with O(name) or O(uid).
  returned: when O(name) or O(uid) is given
  type: dict
  sample:
    uid: loki
    name: Loki
    type: loki
    url: http://127.0.0.1:3100
count:
  description: Number of datasources returned.
  returned: success
  type: int
  sample: 3
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dojo.kafka_observability.plugins.module_utils.grafana import (
    GRAFANA_MUTUALLY_EXCLUSIVE,
    GRAFANA_REQUIRED_TOGETHER,
    GrafanaClient,
    GrafanaError,
    grafana_argument_spec,
)


def main():
    argument_spec = grafana_argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        uid=dict(type="str"),
        type=dict(type="str"),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[*GRAFANA_MUTUALLY_EXCLUSIVE, ("name", "uid")],
        required_together=GRAFANA_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    params = module.params
    try:
        client = GrafanaClient(params)
        if params["name"] or params["uid"]:
            ds = client.get_datasource(name=params["name"], uid=params["uid"])
            if params["type"] and ds.get("type") != params["type"]:
                module.fail_json(
                    msg="Datasource '%s' is of type '%s', not '%s'." % (ds.get("name"), ds.get("type"), params["type"]),
                    error_kind="type_mismatch",
                    datasource=ds,
                )
            module.exit_json(changed=False, datasources=[ds], datasource=ds, count=1)
        found = client.list_datasources()
        if params["type"]:
            found = [ds for ds in found if ds.get("type") == params["type"]]
        module.exit_json(changed=False, datasources=found, count=len(found))
    except GrafanaError as exc:
        module.fail_json(msg=exc.msg, **exc.as_result())


if __name__ == "__main__":
    main()
