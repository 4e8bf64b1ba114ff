"""Reading the Terraform of infra/terraform with python-hcl2, for the settings tests.

python-hcl2 (8.x) keeps HCL's quoting: block labels and string literals come back wrapped in
double quotes, expressions as "${...}", and blocks as lists of dicts marked "__is_block__".
`clean` turns that into plain Python values; `Estate` follows a resource argument through the
module variable it names to the value an environment actually passes (or the variable's
default), so a test sees the value Terraform would use.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
MODULES = TERRAFORM / "modules"
ENVS = TERRAFORM / "envs"

_REF = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_]+)\}$")


def clean(value: Any) -> Any:
    """Strip python-hcl2's quoting and block markers, recursively."""
    if isinstance(value, dict):
        return {clean_key(k): clean(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def clean_key(key: str) -> str:
    if len(key) >= 2 and key[0] == '"' and key[-1] == '"':
        return key[1:-1]
    return key


@lru_cache(maxsize=None)
def load_dir(directory: Path) -> dict[str, list[Any]]:
    """All top-level blocks of the .tf files in one directory, by block type."""
    merged: dict[str, list[Any]] = {}
    files = sorted(directory.glob("*.tf"))
    if not files:
        raise FileNotFoundError(f"no .tf files in {directory}")
    for path in files:
        with path.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle)
        for block_type, blocks in parsed.items():
            merged.setdefault(block_type, []).extend(blocks)
    return merged


def resources(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for block in load_dir(directory).get("resource", []):
        for rtype, by_name in block.items():
            for rname, body in by_name.items():
                found[(clean_key(rtype), clean_key(rname))] = clean(body)
    return found


def variables(directory: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in load_dir(directory).get("variable", []):
        for name, body in block.items():
            found[clean_key(name)] = clean(body)
    return found


def locals_of(directory: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for block in load_dir(directory).get("locals", []):
        found.update(clean(block))
    return found


def module_calls(directory: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in load_dir(directory).get("module", []):
        for name, body in block.items():
            found[clean_key(name)] = clean(body)
    return found


class Unresolved(Exception):
    """The value is an expression these tests do not evaluate."""


class Estate:
    """One environment (envs/<name>) and the modules it calls."""

    def __init__(self, env: str):
        self.env = env
        self.env_dir = ENVS / env
        self.calls = module_calls(self.env_dir)
        self.env_locals = locals_of(self.env_dir)
        self.env_vars = variables(self.env_dir)

    def module_dir(self, module: str) -> Path:
        source = self.calls[module]["source"]
        return (self.env_dir / source).resolve()

    def resource(self, module: str, rtype: str, rname: str) -> dict[str, Any]:
        found = resources(self.module_dir(module))
        if (rtype, rname) not in found:
            raise KeyError(f"{module}: no resource {rtype}.{rname}")
        return found[(rtype, rname)]

    def resolve_env(self, value: Any) -> Any:
        """A value written in the environment's main.tf: literals, var.X, local.X."""
        if not isinstance(value, str):
            return value
        match = _REF.match(value)
        if not match:
            if value.startswith("${"):
                raise Unresolved(value)
            return value
        kind, name = match.groups()
        if kind == "local":
            return self.resolve_env(self.env_locals[name])
        default = self.env_vars[name].get("default")
        if default is None:
            raise Unresolved(value)
        return self.resolve_env(default)

    def module_var(self, module: str, name: str) -> Any:
        """The value variable `name` of `module` takes in this environment."""
        call = self.calls[module]
        if name in call:
            return self.resolve_env(call[name])
        declared = variables(self.module_dir(module))
        if name not in declared:
            raise KeyError(f"{module}: no variable {name}")
        if "default" not in declared[name]:
            raise Unresolved(f"{module}.{name} has no default and is not passed")
        return declared[name]["default"]

    def value(self, module: str, raw: Any) -> Any:
        """A value written inside a module: a literal, or `var.X` followed to its value."""
        if isinstance(raw, str):
            match = _REF.match(raw)
            if match and match.group(1) == "var":
                return self.module_var(module, match.group(2))
            if match and match.group(1) == "local":
                module_locals = locals_of(self.module_dir(module))
                return self.value(module, module_locals[match.group(2)])
            if raw.startswith("${"):
                raise Unresolved(raw)
        return raw

    def attr(self, module: str, rtype: str, rname: str, *path: Any) -> Any:
        """resource argument at `path` (keys, and list indexes for blocks), resolved."""
        node: Any = self.resource(module, rtype, rname)
        for step in path:
            node = node[step]
        return self.value(module, node)
