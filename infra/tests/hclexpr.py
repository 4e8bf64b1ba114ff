"""A small evaluator of Terraform expressions, for reading what a task is really given.

python-hcl2 hands back expressions as their source text ("${merge({PORT = ...}, var.x)}").
This module parses that text and evaluates the part of the language the estate's task
definitions use: literals, string templates, objects and tuples, `for` expressions, the
conditional, comparisons and boolean operators, references with attribute and index steps, and a
handful of functions. A reference it cannot follow is looked up by the caller's `resolve`
function, which is how the local boot test substitutes its own hosts and secrets for the AWS
resources; anything else unknown raises `Unresolved`, so that a new construct in the Terraform
fails loudly rather than evaluating to something wrong.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable


class Unresolved(Exception):
    """The expression uses something this evaluator does not know."""


_NUMBER = re.compile(r"\d+(\.\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _tostring(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float, str)):
        return str(v)
    raise Unresolved(f"tostring of {type(v).__name__}")


def _merge(*maps: Any) -> dict:
    out: dict = {}
    for m in maps:
        if not isinstance(m, dict):
            raise Unresolved("merge of a non-object")
        out.update(m)
    return out


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "merge": _merge,
    "tostring": _tostring,
    "tonumber": lambda v: float(v) if "." in str(v) else int(v),
    "jsonencode": lambda v: json.dumps(v, separators=(",", ":")),
    "keys": lambda m: sorted(m.keys()),
    "values": lambda m: [m[k] for k in sorted(m.keys())],
    "sort": lambda xs: sorted(xs),
    "concat": lambda *xs: [x for part in xs for x in part],
    "coalesce": lambda *xs: next(x for x in xs if x not in (None, "")),
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "join": lambda sep, xs: sep.join(_tostring(x) for x in xs),
    "split": lambda sep, s: s.split(sep),
    "length": len,
    "lookup": lambda m, k, *default: m.get(k, default[0]) if default else m[k],
    "contains": lambda xs, v: v in xs,
}


class _Parser:
    """Recursive descent over the expression text, building a tree of closures."""

    def __init__(self, text: str):
        self.s = text
        self.i = 0

    def fail(self, what: str) -> Unresolved:
        return Unresolved(f"{what} at {self.i} in {self.s!r}")

    def ws(self) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif self.s.startswith("#", self.i) or self.s.startswith("//", self.i):
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                break

    def peek(self, token: str) -> bool:
        self.ws()
        return self.s.startswith(token, self.i)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.i += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.take(token):
            raise self.fail(f"expected {token!r}")

    def keyword(self, word: str) -> bool:
        self.ws()
        m = _IDENT.match(self.s, self.i)
        if m and m.group(0) == word:
            self.i = m.end()
            return True
        return False

    # expr := or ('?' expr ':' expr)?
    def expr(self):
        cond = self.binary(0)
        if self.take("?"):
            yes = self.expr()
            self.expect(":")
            no = self.expr()
            return lambda env: yes(env) if cond(env) else no(env)
        return cond

    LEVELS = [["||"], ["&&"], ["==", "!="], [">=", "<=", ">", "<"], ["+", "-"], ["*", "/", "%"]]
    OPS = {
        "||": lambda a, b: a or b, "&&": lambda a, b: a and b,
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
        ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b, "<": lambda a, b: a < b,
        "+": lambda a, b: a + b, "-": lambda a, b: a - b,
        "*": lambda a, b: a * b, "/": lambda a, b: a / b, "%": lambda a, b: a % b,
    }

    def binary(self, level: int):
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            # Longer operators come first in each level, so ">=" is never read as ">".
            op = next((o for o in self.LEVELS[level] if self.peek(o)), None)
            if op is None:
                return left
            self.i += len(op)
            right = self.binary(level + 1)
            left = (lambda lhs, rhs, f: lambda env: f(lhs(env), rhs(env)))(
                left, right, self.OPS[op]
            )

    def unary(self):
        if self.take("!"):
            inner = self.unary()
            return lambda env: not inner(env)
        if self.peek("-") and not self.peek("->"):
            self.i += 1
            inner = self.unary()
            return lambda env: -inner(env)
        return self.postfix(self.primary())

    def postfix(self, node, path: str | None = None):
        while True:
            if self.peek(".") and not self.peek(".."):
                self.i += 1
                m = _IDENT.match(self.s, self.i) or _NUMBER.match(self.s, self.i)
                if not m:
                    raise self.fail("expected an attribute")
                self.i = m.end()
                name = m.group(0)
                node = (lambda n, k: lambda env: _index(n(env), k))(node, name)
            elif self.peek("["):
                self.i += 1
                key = self.expr()
                self.expect("]")
                node = (lambda n, k: lambda env: _index(n(env), k(env)))(node, key)
            else:
                return node

    def primary(self):
        self.ws()
        if self.i >= len(self.s):
            raise self.fail("unexpected end")
        c = self.s[self.i]
        if c == '"':
            return self.template()
        if c == "(":
            self.i += 1
            inner = self.expr()
            self.expect(")")
            return inner
        if c == "[":
            return self.tuple_()
        if c == "{":
            return self.object_()
        m = _NUMBER.match(self.s, self.i)
        if m:
            self.i = m.end()
            value = float(m.group(0)) if m.group(1) else int(m.group(0))
            return lambda env: value
        m = _IDENT.match(self.s, self.i)
        if not m:
            raise self.fail("unexpected character")
        self.i = m.end()
        name = m.group(0)
        if name in ("true", "false"):
            return lambda env: name == "true"
        if name == "null":
            return lambda env: None
        if self.peek("("):
            self.i += 1
            args = []
            while not self.take(")"):
                args.append(self.expr())
                self.take(",")
            if name == "try":
                return lambda env: _first_that_evaluates(args, env)
            if name not in FUNCTIONS:
                raise Unresolved(f"function {name}()")
            fn = FUNCTIONS[name]
            return lambda env: fn(*[a(env) for a in args])
        return self.reference(name)

    def reference(self, root: str):
        """`root.a.b[...]`: the longest dotted prefix is offered to the environment first."""
        parts = [root]
        while self.peek(".") and _IDENT.match(self.s, self.i + 1):
            save = self.i
            self.i += 1
            m = _IDENT.match(self.s, self.i)
            assert m
            self.i = m.end()
            parts.append(m.group(0))
            if len(parts) > (4 if root == "data" else 3):
                self.i = save
                parts.pop()
                break
        dotted = ".".join(parts)
        node = lambda env: env.lookup(dotted)  # noqa: E731
        return self.postfix(node)

    def tuple_(self):
        self.expect("[")
        if self.keyword("for"):
            return self.for_(close="]")
        items = []
        while not self.take("]"):
            items.append(self.expr())
            self.take(",")
        return lambda env: [item(env) for item in items]

    def object_(self):
        self.expect("{")
        if self.keyword("for"):
            return self.for_(close="}")
        pairs = []
        while not self.take("}"):
            self.ws()
            m = _IDENT.match(self.s, self.i)
            if m and self.s[m.end():].lstrip()[:1] in ("=", ":"):
                self.i = m.end()
                key = (lambda k: lambda env: k)(m.group(0))
            else:
                key = self.expr()
            if not (self.take("=") or self.take(":")):
                raise self.fail("expected = in an object")
            value = self.expr()
            pairs.append((key, value))
            self.take(",")
        return lambda env: {k(env): v(env) for k, v in pairs}

    def for_(self, close: str):
        names = [self.ident()]
        if self.take(","):
            names.append(self.ident())
        if not self.keyword("in"):
            raise self.fail("expected in")
        source = self.expr()
        self.expect(":")
        key = self.expr()
        value = None
        if close == "}":
            self.expect("=>")
            value = self.expr()
        cond = None
        if self.keyword("if"):
            cond = self.expr()
        self.expect(close)

        def run(env):
            coll = source(env)
            items = list(coll.items()) if isinstance(coll, dict) else list(enumerate(coll))
            out_list, out_map = [], {}
            for k, v in items:
                bound = dict(zip(names, [v] if len(names) == 1 else [k, v]))
                inner = env.bind(bound)
                if cond is not None and not cond(inner):
                    continue
                if value is None:
                    out_list.append(key(inner))
                else:
                    out_map[key(inner)] = value(inner)
            return out_list if value is None else out_map

        return run

    def ident(self) -> str:
        self.ws()
        m = _IDENT.match(self.s, self.i)
        if not m:
            raise self.fail("expected a name")
        self.i = m.end()
        return m.group(0)

    def template(self):
        """A quoted string with `${...}` interpolations."""
        self.expect('"')
        parts: list = []
        text = ""
        while True:
            if self.i >= len(self.s):
                raise self.fail("unterminated string")
            c = self.s[self.i]
            if c == '"':
                self.i += 1
                break
            if c == "\\":
                nxt = self.s[self.i + 1]
                text += {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, nxt)
                self.i += 2
            elif self.s.startswith("$${", self.i):
                text += "${"
                self.i += 3
            elif self.s.startswith("${", self.i):
                if text:
                    parts.append((lambda t: lambda env: t)(text))
                    text = ""
                self.i += 2
                inner = self.expr()
                self.expect("}")
                parts.append(inner)
            else:
                text += c
                self.i += 1
        if text or not parts:
            parts.append((lambda t: lambda env: t)(text))
        if len(parts) == 1:
            only = parts[0]
            return only
        return lambda env: "".join(_tostring(p(env)) for p in parts)


def _first_that_evaluates(args, env) -> Any:
    """Terraform's try(): the first argument that evaluates without an error."""
    for arg in args:
        try:
            return arg(env)
        except (Unresolved, KeyError, IndexError):
            continue
    raise Unresolved("try(): no argument evaluates")


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        if key not in value:
            raise Unresolved(f"no key {key!r}")
        return value[key]
    if isinstance(value, list):
        if not 0 <= int(key) < len(value):
            raise Unresolved(f"no element {key}")
        return value[int(key)]
    raise Unresolved(f"cannot index {type(value).__name__} with {key!r}")


def parse(text: str):
    """The expression in `text` as a function of an environment (see `evaluate`)."""
    parser = _Parser(text)
    node = parser.expr()
    parser.ws()
    if parser.i != len(text):
        raise parser.fail("trailing text")
    return node


class Scope:
    """Names in scope: `lookup(dotted)` tries the longest dotted name first, then shorter
    ones with the rest applied as attribute steps."""

    def __init__(self, resolve: Callable[[str], Any], bound: dict[str, Any] | None = None):
        self.resolve = resolve
        self.bound = bound or {}

    def bind(self, names: dict[str, Any]) -> "Scope":
        return Scope(self.resolve, {**self.bound, **names})

    def lookup(self, dotted: str) -> Any:
        parts = dotted.split(".")
        if parts[0] in self.bound:
            value = self.bound[parts[0]]
            for p in parts[1:]:
                value = _index(value, p)
            return value
        for cut in range(len(parts), 0, -1):
            try:
                value = self.resolve(".".join(parts[:cut]))
            except KeyError:
                continue
            for p in parts[cut:]:
                value = _index(value, p)
            return value
        raise Unresolved(f"reference {dotted}")


def evaluate(value: Any, resolve: Callable[[str], Any]) -> Any:
    """`value` as python-hcl2 returns it (text with `${...}`, or nested lists and dicts of
    such), evaluated. `resolve(name)` answers a reference (`var.x`, `local.y`,
    `aws_db_instance.primary.address`) or raises KeyError."""
    scope = Scope(resolve)
    if isinstance(value, dict):
        return {k: evaluate(v, resolve) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, resolve) for v in value]
    if not isinstance(value, str):
        return value
    if value.startswith("${") and value.endswith("}") and _whole_interpolation(value):
        return parse(value[2:-1])(scope)
    if "${" in value:
        # python-hcl2 returns the template's source text, escapes included.
        return parse('"' + value + '"')(scope)
    return value


def _whole_interpolation(value: str) -> bool:
    """True when `${` at the start closes exactly at the end (not "${a}-${b}")."""
    depth, i, in_string = 0, 0, False
    while i < len(value):
        c = value[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0 and i != len(value) - 1:
                return False
        i += 1
    return True
