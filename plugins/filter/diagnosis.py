# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""broken_hops: which hop of the telemetry chain broke, from the verification's hop checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError


def _as_list(value, what):
    if not isinstance(value, (list, tuple)):
        raise AnsibleFilterError("broken_hops: {0} must be a list, got {1}".format(what, type(value).__name__))
    return list(value)


def _outcomes(checked):
    """{hop name: (failed, message)} from the registered results of loops over hop entries."""
    outcomes = {}
    for result in _as_list(checked, "the hop checks"):
        if not isinstance(result, dict) or not isinstance(result.get("item"), dict):
            raise AnsibleFilterError("broken_hops: each hop check must be a loop result with the hop as its item")
        if result.get("skipped"):
            continue
        failed = bool(result.get("failed"))
        message = result.get("msg") or ""
        if "status" in result and failed:  # a GET (ansible.builtin.uri): what answered, or why nothing did
            message = "GET {0}: {1}".format(result.get("url") or result["item"].get("url", ""), _http_reason(result))
        outcomes[result["item"].get("name")] = (failed, message)
    return outcomes


def _http_reason(result):
    """HTTP <status>, or the connection error (uri reports status -1 with the URL library's reason in msg)."""
    status = result.get("status")
    if isinstance(status, int) and status > 0:
        return "HTTP {0}".format(status)
    message = result.get("msg") or "no answer"
    match = re.search(r"<url[a-z]* error (?:\[Errno -?\d+\] )?(.*?)>", message)
    return match.group(1) if match else message


def broken_hops(results, hops, checked):
    """One entry per chain with a failed check: the first hop of that chain whose check failed.

    results: the run's recorded checks, each with name, status and chain.
    hops: the hop checks in chain order, each with name, hop and chains.
    checked: the registered results of the loops that checked hops (item = the hop entry).
    """
    results = _as_list(results, "the results")
    hops = _as_list(hops, "the hops")
    outcomes = _outcomes(checked)
    chains = []
    failed_checks = {}
    for result in results:
        if result.get("status") != "failed" or not result.get("chain"):
            continue
        chain = result["chain"]
        if chain not in failed_checks:
            chains.append(chain)
            failed_checks[chain] = []
        failed_checks[chain].append(result.get("name", "?"))
    diagnosis = []
    for chain in chains:
        entry = {
            "chain": chain,
            "checks": failed_checks[chain],
            "hop": None,
            "name": None,
            "evidence": "",
            "checked": [],
        }
        for hop in hops:
            if chain not in hop.get("chains", []):
                continue
            if hop.get("name") not in outcomes:
                continue
            hop_failed, message = outcomes[hop["name"]]
            entry["checked"].append(hop["name"])
            if hop_failed:
                entry.update(hop=hop.get("hop", hop["name"]), name=hop["name"], evidence=message)
                break
        if entry["hop"] is None:
            looked_at = ", ".join(entry["checked"]) or "no hop check applies"
            entry["evidence"] = "every hop of this chain checked fine ({0}): look at the data the check expects".format(
                looked_at
            )
        diagnosis.append(entry)
    return diagnosis


class FilterModule(object):
    def filters(self):
        return {"broken_hops": broken_hops}
