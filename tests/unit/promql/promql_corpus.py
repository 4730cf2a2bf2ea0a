"""The PromQL corpus of the selector tests (unit and integration).

- the rules of roles/prometheus_alerts/templates/kafka-alerts.yml.j2 rendered through real Ansible
  with the role's defaults and vars (the rule file the role writes with no variable set);
- the runbook's rule (tests/unit/rules/seed-kafka-alerts.yml);
- TRICKY: expressions with each construct the extraction must see through, and what it must find.
"""

import json
from pathlib import Path

import yaml

from tests.support.ansible_run import REPO, run_playbook

ROLE = REPO / "roles" / "prometheus_alerts"
SEED_RULES = REPO / "tests" / "unit" / "rules" / "seed-kafka-alerts.yml"
KAFKA_ID_RE = r"/user\.slice/user-[0-9]+\.slice/user@[0-9]+\.service/app\.slice/kafka\.service"
SEED_ID = "/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service"


def render_role_rules(workdir):
    """The role's rule file as the role renders it with its defaults: (text, rules)."""
    workdir = Path(workdir)
    out = workdir / "kafka-alerts.yml"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
            "tasks": [
                {
                    "ansible.builtin.template": {
                        "src": str(ROLE / "templates" / "kafka-alerts.yml.j2"),
                        "dest": str(out),
                        "mode": "0644",
                    },
                    "vars": {"role_path": str(ROLE)},
                }
            ],
        }
    ]
    playbook = workdir / "render-kafka-alerts.yml"
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory="localhost,", args=["-c", "local"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = out.read_text()
    return text, rules_of(yaml.safe_load(text))


def seed_rules():
    text = SEED_RULES.read_text()
    return text, rules_of(yaml.safe_load(text))


def rules_of(doc):
    return [rule for group in doc["groups"] for rule in group["rules"]]


def m(name, op, value):
    return {"name": name, "op": op, "value": value}


# (expression, [(selector text, metric, matchers)]): each construct the walk must see through
TRICKY = [
    ("up", [("up", "up", [])]),
    ('  up  # a comment {job="x"} rate(y[5m])\n', [("up", "up", [])]),
    ('up{job="a"} or up{job="a"} or up{ job = "a" , }', [('up{job="a"}', "up", [m("job", "=", "a")])]),
    (
        'x{a="1", b!="2"} + x{b!="2", a="1"}',  # the same matchers in another order: the same selector
        [('x{a="1", b!="2"}', "x", [m("a", "=", "1"), m("b", "!=", "2")])],
    ),
    (
        "{__name__=~\"kafka_.+\", job!~'test|dev'}",
        [
            (
                '{__name__=~"kafka_.+", job!~"test|dev"}',
                None,
                [m("__name__", "=~", "kafka_.+"), m("job", "!~", "test|dev")],
            )
        ],
    ),
    ('{__name__="up", job="x"}', [('{__name__="up", job="x"}', "up", [m("__name__", "=", "up"), m("job", "=", "x")])]),
    # strings in the three quotings, with braces, quotes and escapes inside
    (
        r"""a{p="}{\"", q='\'{', r=`C:\path{}`, s="\x41\u00e9\n"}""",
        [
            (
                'a{p="}{\\"", q="\'{", r="C:\\\\path{}", s="Aé\\n"}',
                "a",
                [m("p", "=", '}{"'), m("q", "=", "'{"), m("r", "=", "C:\\path{}"), m("s", "=", "Aé\n")],
            )
        ],
    ),
    # function calls and aggregations are not selectors; their string arguments neither
    (
        'label_replace(rate(http_requests_total{code=~"5.."}[5m]), "dst", "$1", "src", "(.*){2}")',
        [('http_requests_total{code=~"5.."}', "http_requests_total", [m("code", "=~", "5..")])],
    ),
    ("sum(rate(a[5m])) by (job, instance)", [("a", "a", [])]),
    ("sum by (job) (rate(b[1m]))", [("b", "b", [])]),
    ("SUM WITHOUT (instance) (c) AND ON (job) d", [("c", "c", []), ("d", "d", [])]),
    ('count_values("version", build_info)', [("build_info", "build_info", [])]),
    ("topk(5, quantile by (le) (0.9, e)) > bool 3", [("e", "e", [])]),
    (
        'histogram_quantile(0.99, sum by (le) (rate(f_bucket{job="api"}[5m])))',
        [('f_bucket{job="api"}', "f_bucket", [m("job", "=", "api")])],
    ),
    (
        'absent(g{job="kafka"}) or vector(0) * time() + scalar(h)',
        [('g{job="kafka"}', "g", [m("job", "=", "kafka")]), ("h", "h", [])],
    ),
    # binary matching clauses: label lists, group_left with and without labels
    (
        "i * on (instance) group_left (nodename) j / ignoring(code) group_right k unless on() l",
        [("i", "i", []), ("j", "j", []), ("k", "k", []), ("l", "l", [])],
    ),
    ("n atan2 o", [("n", "n", []), ("o", "o", [])]),
    # ranges, subqueries, offset, @
    ("rate(p[5m] offset 1h)", [("p", "p", [])]),
    ("max_over_time(deriv(rate(q[1m])[5m:1m])[1h:] offset -30m @ end())", [("q", "q", [])]),
    ("r @ 1609746000 + s @ start() - t offset 1d @ -5.5", [("r", "r", []), ("s", "s", []), ("t", "t", [])]),
    ("count_over_time(u[1h30m]) and max_over_time(v[5m:])", [("u", "u", []), ("v", "v", [])]),
    # numbers and durations are not metrics; Inf and NaN neither
    ("w > 1e3 and w < 0x1F and w != Inf and w != -inf and w != NaN and w > .5", [("w", "w", [])]),
    # recording-rule names with colons; a function name used as a metric name
    (
        'job:requests:rate5m{job="x"} / rate',
        [('job:requests:rate5m{job="x"}', "job:requests:rate5m", [m("job", "=", "x")]), ("rate", "rate", [])],
    ),
    # label names that are keywords
    (
        'y{on="1", by="2", offset="3"}',
        [('y{on="1", by="2", offset="3"}', "y", [m("on", "=", "1"), m("by", "=", "2"), m("offset", "=", "3")])],
    ),
    # Prometheus 3's quoted names
    (
        '{"http.requests", "status.code"="200"}',
        [('{"http.requests", "status.code"="200"}', "http.requests", [m("status.code", "=", "200")])],
    ),
    ("(z)", [("z", "z", [])]),
    ("vector(1)", []),
    ("1 + 2", []),
]

# what the extraction refuses, and the start of its one-sentence reason
MALFORMED = [
    ('up{job="x}', "unterminated quoted string starting at character 8"),
    ('up{job="x"', "unclosed brace opened at character 3"),
    ("sum(rate(x[5m])", "unclosed parenthesis opened at character 4"),
    ("x[5m", "unclosed bracket opened at character 2"),
    ("x)", "unexpected closing parenthesis at character 2"),
    ("up{job=~x}", "expected a quoted value for the label 'job'"),
    ('up{job>"x"}', "expected one of = != =~ !~ after the label 'job'"),
    ("x @ foo", "expected start(), end() or a timestamp after @"),
    ("x $ y", "unexpected character '$' at character 3"),
    ("sum by (job, 1) (x)", "expected a label name in the list opened at character 8"),
]
