# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vector selectors of a PromQL expression, without Prometheus.

    >>> [s["selector"] for s in selectors('sum by (job) (rate(http_total{code=~"5.."}[5m])) / on() up')]
    ['http_total{code=~"5.."}', 'up']

`selectors(expr)` lexes the expression the way Prometheus does (strings in double quotes, single
quotes and backticks, comments, numbers, durations, keywords) and walks the tokens, telling a
vector selector (a metric name, `{matchers}`, or both) from what only looks like one: function and
aggregation names (followed by an opening parenthesis), the label lists of `by`, `without`, `on`,
`ignoring`, `group_left` and `group_right`, the keywords (`and`, `or`, `unless`, `bool`, `atan2`,
`offset`), the durations of ranges and subqueries (`[5m]`, `[30m:1m]`) and offsets, and what
follows `@` (`start()`, `end()`, a timestamp). It extracts; it does not validate: what it cannot
lex (an unterminated string, an unclosed brace) raises PromQLError, anything else that
Prometheus would reject is Prometheus's to say.

Each selector: `selector` (the selector alone, matchers re-quoted with double quotes, ready to
send to Prometheus), `metric` (the metric name, from the name or an `__name__="..."` matcher; None
when neither) and `matchers` ([{name, op, value}], op one of = != =~ !~, value unquoted). They are
returned in the order they appear, each once (same metric and same matchers, in any order).
Prometheus 3's quoted (UTF-8) names are read too: `{"metric.name", "label.name"="x"}`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

MATCH_OPS = ("=", "!=", "=~", "!~")

# keywords Prometheus reads case-insensitively; a label list in parentheses may follow the first six
GROUPING_KEYWORDS = ("by", "without", "on", "ignoring", "group_left", "group_right")
OTHER_KEYWORDS = ("and", "or", "unless", "bool", "atan2", "offset")
NUMBER_WORDS = ("inf", "nan")

_UNITS = "ms|s|m|h|d|w|y"
_TOKENS = [
    ("COMMENT", re.compile(r"#[^\n]*")),
    ("STRING", re.compile(r'"(?:[^"\\\n]|\\.)*"' + r"|'(?:[^'\\\n]|\\.)*'|`[^`]*`")),
    ("NUMBER", re.compile(r"0[xX][0-9a-fA-F]+")),
    ("DURATION", re.compile(r"(?:\d+(?:%s))+(?![A-Za-z0-9_])" % _UNITS)),
    ("NUMBER", re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z0-9_:])")),
    ("IDENT", re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")),
    ("OP", re.compile(r"=~|!~|!=|==|<=|>=|[=<>+\-*/%^(){}\[\],@]")),
]
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_IDENT_RE = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PromQLError(ValueError):
    """The expression cannot be lexed or its selectors cannot be read; str() is one sentence."""


class _Token:
    __slots__ = ("kind", "pos", "text")

    def __init__(self, kind, text, pos):
        self.kind = kind
        self.text = text
        self.pos = pos

    def is_op(self, *texts):
        return self.kind == "OP" and self.text in texts

    def keyword(self):
        return self.text.lower() if self.kind == "IDENT" else None


def tokenize(expr):
    """The tokens of expr (comments and white space left out); raises PromQLError on what cannot be lexed."""
    tokens, pos, text = [], 0, expr
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        for kind, regex in _TOKENS:
            match = regex.match(text, pos)
            if match:
                if kind != "COMMENT":
                    tokens.append(_Token(kind, match.group(0), pos))
                pos = match.end()
                break
        else:
            if text[pos] in "\"'`":
                raise PromQLError(
                    "unterminated quoted string starting at character %d: %s" % (pos + 1, _near(text, pos))
                )
            raise PromQLError("unexpected character %r at character %d: %s" % (text[pos], pos + 1, _near(text, pos)))
    tokens.append(_Token("EOF", "", len(text)))
    return tokens


def _near(text, pos):
    snippet = text[pos : pos + 30].replace("\n", " ")
    return "%r" % (snippet + ("..." if len(text) > pos + 30 else ""))


def unquote(token):
    """A PromQL string token -> its value: backticks raw, double and single quotes with Go's escapes."""
    if token.startswith("`"):
        return token[1:-1]
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            size = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = body[i + 2 : i + 2 + size]
            if len(digits) != size or not re.match(r"^[0-9a-fA-F]+$", digits):
                raise PromQLError("invalid escape \\%s%s in the string %s" % (nxt, digits, token))
            out.append(chr(int(digits, 16)))
            i += 2 + size
        elif nxt in "01234567" and nxt:
            digits = body[i + 1 : i + 4]
            if not re.match(r"^[0-7]{3}$", digits):
                raise PromQLError("invalid octal escape \\%s in the string %s" % (digits, token))
            out.append(chr(int(digits, 8)))
            i += 4
        else:  # \\ \" \' and, leniently, any other character escaped
            out.append(nxt)
            i += 2
    return "".join(out)


def quote(value):
    """A label value as a double-quoted PromQL string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"%s"' % escaped.replace("\t", "\\t")


def format_selector(metric, matchers, name_matched=False):
    """The selector text name{l="v", ...}; a name that is not a plain identifier is written quoted in the braces."""
    parts = ["%s%s%s" % (_label_text(m["name"]), m["op"], quote(m["value"])) for m in matchers]
    if metric is not None and not name_matched:
        if _IDENT_RE.match(metric):
            return metric + ("{%s}" % ", ".join(parts) if parts else "")
        parts.insert(0, quote(metric))
    return "{%s}" % ", ".join(parts)


def _label_text(name):
    return name if _LABEL_RE.match(name) else quote(name)


class _Walker:
    def __init__(self, expr):
        self.expr = expr
        self.tokens = tokenize(expr)
        self.pos = 0
        self.found = []
        self.seen = set()

    def peek(self, offset=0):
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self):
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, token, what):
        where = "the end" if token.kind == "EOF" else "character %d (%r)" % (token.pos + 1, token.text)
        raise PromQLError("%s at %s of the expression %s" % (what, where, _near(self.expr, 0)))

    # ---------------------------------------------------------------- the walk
    def run(self):
        depth = []  # the open parentheses, brackets and braces, to report an unbalanced one
        while self.peek().kind != "EOF":
            token = self.peek()
            word = token.keyword()
            if token.is_op("("):
                depth.append(self.take())
            elif token.is_op(")"):
                if not depth:
                    self.fail(token, "unexpected closing parenthesis")
                depth.pop()
                self.take()
            elif token.is_op("["):
                self.skip_brackets()
            elif token.is_op("{"):
                self.selector(None)
            elif token.is_op("}", "]"):
                self.fail(token, "unexpected %r" % token.text)
            elif token.is_op("@"):
                self.take()
                self.skip_at()
            elif word in GROUPING_KEYWORDS:
                self.take()
                if self.peek().is_op("("):
                    self.skip_label_list()
            elif word == "offset":
                self.take()
                while self.peek().is_op("-", "+"):
                    self.take()
                if self.peek().kind in ("DURATION", "NUMBER"):
                    self.take()
            elif word in OTHER_KEYWORDS or word in NUMBER_WORDS:
                self.take()
            elif token.kind == "IDENT":
                self.take()
                after = self.peek()
                if after.is_op("(") or after.keyword() in ("by", "without"):
                    continue  # a function call or an aggregation: its arguments are walked as they come
                self.selector(token.text)
            else:  # numbers, durations, strings (function arguments), operators, commas
                self.take()
        if depth:
            self.fail(depth[-1], "unclosed parenthesis opened")
        return self.found

    def skip_brackets(self):
        opening = self.take()
        while not self.peek().is_op("]"):
            if self.peek().kind == "EOF":
                self.fail(opening, "unclosed bracket opened")
            self.take()
        self.take()

    def skip_label_list(self):
        opening = self.take()
        while not self.peek().is_op(")"):
            token = self.peek()
            if token.kind not in ("IDENT", "STRING") and not token.is_op(","):
                self.fail(token, "expected a label name in the list opened at character %d" % (opening.pos + 1))
            self.take()
        self.take()

    def skip_at(self):
        """What @ modifies with: start(), end() or a (signed) number."""
        while self.peek().is_op("-", "+"):
            self.take()
        token = self.peek()
        if token.keyword() in ("start", "end") and self.peek(1).is_op("(") and self.peek(2).is_op(")"):
            self.pos += 3
        elif token.kind in ("NUMBER", "DURATION") or token.keyword() in NUMBER_WORDS:
            self.take()
        else:
            self.fail(token, "expected start(), end() or a timestamp after @")

    def selector(self, name):
        matchers, metric, name_matched = [], name, False
        if self.peek().is_op("{"):
            opening = self.take()
            while not self.peek().is_op("}"):
                token = self.take()
                if token.kind == "EOF":
                    self.fail(opening, "unclosed brace opened")
                if token.kind not in ("IDENT", "STRING"):
                    self.fail(token, "expected a label name or a quoted metric name")
                label = unquote(token.text) if token.kind == "STRING" else token.text
                op = self.peek()
                if token.kind == "STRING" and (op.is_op(",", "}")):
                    if metric is not None:
                        self.fail(token, "a second metric name")
                    metric = label  # Prometheus 3: {"metric.name", ...}
                else:
                    if op.kind != "OP" or op.text not in MATCH_OPS:
                        self.fail(op, "expected one of = != =~ !~ after the label %r" % label)
                    self.take()
                    value = self.take()
                    if value.kind != "STRING":
                        self.fail(value, "expected a quoted value for the label %r" % label)
                    matchers.append({"name": label, "op": op.text, "value": unquote(value.text)})
                if self.peek().is_op(","):
                    self.take()
                elif self.peek().kind == "EOF":
                    self.fail(opening, "unclosed brace opened")
                elif not self.peek().is_op("}"):
                    self.fail(self.peek(), "expected , or } in the selector opened at character %d" % (opening.pos + 1))
            self.take()
        if metric is None:
            named = [m["value"] for m in matchers if m["name"] == "__name__" and m["op"] == "="]
            if named:
                metric, name_matched = named[0], True
        if metric is None and not matchers:
            return
        key = (metric if not name_matched else None, tuple(sorted((m["name"], m["op"], m["value"]) for m in matchers)))
        if key in self.seen:
            return
        self.seen.add(key)
        self.found.append(
            {
                "selector": format_selector(metric, matchers, name_matched),
                "metric": metric,
                "matchers": matchers,
            }
        )


def selectors(expr):
    """The vector selectors of the PromQL expression expr, in order, each once (see the module docstring)."""
    if not isinstance(expr, str):
        raise PromQLError("a PromQL expression must be a string, not %s" % type(expr).__name__)
    return _Walker(expr).run()


def selector_constraints(selector):
    """{label: [(op, value), ...]} of the labels a selector constrains, __name__ left out."""
    out = {}
    for matcher in selector["matchers"]:
        if matcher["name"] != "__name__":
            out.setdefault(matcher["name"], []).append((matcher["op"], matcher["value"]))
    return out
