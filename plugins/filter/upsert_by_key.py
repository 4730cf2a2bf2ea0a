# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""upsert_by_key: put one entry into a list of dicts, replacing the entries with the same key.

The merges of the roles (a scrape job into scrape_configs, a receiver into receivers, a child
route into route.routes) are this one operation; the documentation is upsert_by_key.yml next
to this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def upsert_by_key(items, entry, key, first=False):
    """items with entry in it: the entries whose `key` equals entry's are replaced by entry in place
    (entry appended when there is none), or, with first=True, removed and entry put first."""
    if items is None:
        items = []
    if not isinstance(items, (list, tuple)):
        raise AnsibleFilterError("upsert_by_key: the input must be a list, got %s" % type(items).__name__)
    if not isinstance(entry, Mapping):
        raise AnsibleFilterError("upsert_by_key: the entry to put must be a dict, got %s" % type(entry).__name__)
    if key not in entry:
        raise AnsibleFilterError("upsert_by_key: the entry to put has no key %r" % (key,))
    value = entry[key]

    def same(other):
        return isinstance(other, Mapping) and key in other and other[key] == value

    if first:
        return [entry] + [other for other in items if not same(other)]
    merged = [entry if same(other) else other for other in items]
    if not any(same(other) for other in items):
        merged.append(entry)
    return merged


class FilterModule(object):
    def filters(self):
        return {"upsert_by_key": upsert_by_key}
