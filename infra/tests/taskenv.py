"""Prints the environment the ECS task definition of an environment hands each container.

    infra/task-env ENV [--local VALUES.json]

Reads infra/terraform/envs/ENV and the modules it calls (python-hcl2, as infra/tests does),
evaluates the `api`, `migrate` and `pgbouncer` containers' `environment` and `secrets`, follows
each secret's `valueFrom` (`ARN:field::`) to the Secrets Manager secret version the estate writes
and evaluates its `secret_string`, and prints one JSON object:

    {"api": {"environment": {...}, "secrets": {...}}, "migrate": {...}, "pgbouncer": {...}}

What only AWS knows (a database's address, a generated password, a bucket's name) is taken from
VALUES.json: an object whose keys are Terraform references, optionally scoped by module
(`"database:aws_db_instance.primary.address": "localhost"`, `"random_password.jwt.result":
"..."`). deploy/local/stack uses this to boot the fleet with exactly what production passes,
hosts and secrets replaced. A reference neither the estate nor VALUES.json answers is an error
naming it (exit 1), so a new dependency of the task cannot slip past the local boot test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hcl import Estate, clean, clean_key, load_dir, locals_of, resources, variables  # noqa: E402
from hclexpr import Unresolved, evaluate  # noqa: E402

CONTAINERS = {"api": "api_container", "migrate": "migrate_container", "pgbouncer": "pgbouncer_container"}
SECRET = "aws_secretsmanager_secret"


class TaskEnv:
    def __init__(self, env: str, local_values: dict[str, Any]):
        self.estate = Estate(env)
        self.local_values = local_values
        self.used: set[str] = set()

    def given(self, scope: str, ref: str) -> Any:
        for key in (f"{scope}:{ref}", ref):
            if key in self.local_values:
                self.used.add(key)
                return self.local_values[key]
        raise KeyError(ref)

    def outputs(self, module: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for block in load_dir(self.estate.module_dir(module)).get("output", []):
            for name, body in block.items():
                found[clean_key(name)] = clean(body)
        return found

    def env_resolver(self, ref: str) -> Any:
        """A reference written in envs/ENV/main.tf."""
        try:
            return self.given("env", ref)
        except KeyError:
            pass
        kind, _, rest = ref.partition(".")
        if kind == "var" and "." not in rest:
            declared = self.estate.env_vars.get(rest, {})
            if "default" in declared:
                return evaluate(declared["default"], self.env_resolver)
        elif kind == "local" and "." not in rest and rest in self.estate.env_locals:
            return evaluate(self.estate.env_locals[rest], self.env_resolver)
        elif kind == "module" and rest.count(".") == 1:
            module, output = rest.split(".")
            outputs = self.outputs(module)
            if output in outputs:
                return evaluate(outputs[output]["value"], self.module_resolver(module))
        raise KeyError(ref)

    def module_resolver(self, module: str):
        directory = self.estate.module_dir(module)

        def resolve(ref: str) -> Any:
            try:
                return self.given(module, ref)
            except KeyError:
                pass
            kind, _, rest = ref.partition(".")
            if kind == "var" and "." not in rest:
                call = self.estate.calls[module]
                if rest in call:
                    return evaluate(call[rest], self.env_resolver)
                declared = variables(directory).get(rest)
                if declared is not None and "default" in declared:
                    return evaluate(declared["default"], resolve)
            elif kind == "local" and "." not in rest:
                module_locals = locals_of(directory)
                if rest in module_locals:
                    return evaluate(module_locals[rest], resolve)
            elif kind == SECRET and rest.count(".") == 1 and rest.endswith(".arn"):
                # An ARN stands for the secret itself, read back by `secret_value`.
                return f"secret/{module}/{rest.split('.')[0]}"
            raise KeyError(ref)

        return resolve

    def secret_value(self, value_from: str) -> str:
        """`secret/MODULE/NAME[:field::]` to the value ECS would inject."""
        arn, _, selector = value_from.partition(":")
        parts = arn.split("/")
        if len(parts) != 3 or parts[0] != "secret":
            raise Unresolved(f"valueFrom {value_from!r} is not a secret of the estate")
        _, module, name = parts
        versions = [
            body
            for (rtype, _), body in resources(self.estate.module_dir(module)).items()
            if rtype == f"{SECRET}_version" and body.get("secret_id") == f"${{{SECRET}.{name}.id}}"
        ]
        if len(versions) != 1:
            raise Unresolved(f"{module}: no single secret version for {SECRET}.{name}")
        text = evaluate(versions[0]["secret_string"], self.module_resolver(module))
        field = selector.split(":")[0] if selector else ""
        if not field:
            return str(text)
        document = json.loads(text)
        if field not in document:
            raise Unresolved(f"{module}/{name} has no field {field!r}")
        return str(document[field])

    def container(self, local_name: str) -> dict[str, dict[str, str]]:
        resolve = self.module_resolver("service")
        body = locals_of(self.estate.module_dir("service"))[local_name]
        environment = evaluate(body.get("environment", []), resolve)
        secrets = evaluate(body.get("secrets", []), resolve)
        return {
            "environment": {item["name"]: str(item["value"]) for item in environment},
            "secrets": {item["name"]: self.secret_value(item["valueFrom"]) for item in secrets},
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra/task-env", description=__doc__.split("\n\n")[0])
    parser.add_argument("env", help="an environment under infra/terraform/envs")
    parser.add_argument("--local", type=Path, help="JSON: Terraform reference -> local value")
    args = parser.parse_args(argv)
    local_values = json.loads(args.local.read_text()) if args.local else {}
    task = TaskEnv(args.env, local_values)
    try:
        out = {name: task.container(local) for name, local in CONTAINERS.items()}
    except (Unresolved, KeyError) as e:
        print(f"task-env: cannot evaluate the task definition: {e}", file=sys.stderr)
        return 1
    unused = sorted(set(local_values) - task.used)
    if unused:
        # Not an error: a value for a resource one environment has and another lacks (a replica).
        print(f"task-env: local values this environment does not use: {', '.join(unused)}", file=sys.stderr)
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


