# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""promql_selectors: the vector selectors of a PromQL expression, or of each rule of a list of rules.

The extraction is plugins/module_utils/promql.py (the one grafana_assert's rule_selectors uses);
the documentation is promql_selectors.yml next to this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.dojo.kafka_observability.plugins.module_utils.promql import PromQLError, selectors


def _rule_name(rule):
    return rule.get("alert") or rule.get("record") or rule.get("name")


def _rules(value):
    """(group name or None, rule) of a list of rules, a rule group {name, rules} or a rule file {groups}."""
    if isinstance(value, dict) and "groups" in value:
        groups = value["groups"]
        if not isinstance(groups, list):
            raise AnsibleFilterError("promql_selectors: 'groups' must be a list of rule groups")
    elif isinstance(value, dict) and "rules" in value:
        groups = [value]
    elif isinstance(value, (list, tuple)):
        groups = [{"name": None, "rules": value}]
    else:
        raise AnsibleFilterError(
            "promql_selectors: expected a PromQL expression (a string), a list of rules, a rule group or a rule "
            "file's content, got %s" % type(value).__name__
        )
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("rules"), (list, tuple)):
            raise AnsibleFilterError("promql_selectors: each rule group must be a dict with a list of 'rules'")
        for index, rule in enumerate(group["rules"]):
            if not isinstance(rule, dict) or not isinstance(rule.get("expr"), str):
                where = "rule #%d%s" % (index + 1, " of group %s" % group["name"] if group.get("name") else "")
                raise AnsibleFilterError("promql_selectors: %s has no 'expr' string" % where)
            yield group.get("name"), rule


def _extract(expr, what):
    try:
        return selectors(expr)
    except PromQLError as exc:
        raise AnsibleFilterError(
            "promql_selectors: cannot read the selectors of %s: %s" % (what, to_text(exc))
        ) from None


def promql_selectors(value):
    """The selectors of an expression, or one entry per rule (name, group, expr, selectors)."""
    if isinstance(value, str):
        return _extract(value, "the expression")
    out = []
    for group, rule in _rules(value):
        name = _rule_name(rule)
        entry = {"name": name, "group": group, "expr": rule["expr"]}
        entry["selectors"] = _extract(rule["expr"], "rule %s" % name if name else "a rule")
        out.append(entry)
    return out


class FilterModule(object):
    def filters(self):
        return {"promql_selectors": promql_selectors}
