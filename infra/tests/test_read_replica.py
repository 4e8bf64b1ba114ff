"""The read replica reaches the API exactly when the database has one.

The database module puts `read_url` (the first replica, directly) in its secret only when
`read_replica_count` > 0, and the service module hands the API `DATABASE_READ_URL` from that key
only when its `database_read_replica_count` > 0. Both conditions are one-entry maps filtered by
`var.X > 0`; these tests evaluate them for several counts, check that each environment passes the
same variable to both modules, and that the replica's connections fit under its max_connections.
"""

import math
import re

import pytest

from hcl import ROOT, Estate, locals_of, resources

# `{for k, v in {NAME = VALUE} : k => v if var.COUNT > 0}`, as python-hcl2 returns it.
_FILTERED = re.compile(r"^\$\{\{for (\w+), (\w+) in \{(\w+) = (.+)\} : \1 => \2 if var\.(\w+) > 0\}\}$")

# Connections PostgreSQL and RDS keep for superusers, and what is left for direct connections:
# deploy/pgbouncer/README.md (the replica shares the primary's parameter group).
RESERVED = 3 + 2 + 15


def _filtered_entry(expression: str) -> tuple[str, str, str]:
    """(name, value, count variable) of a one-entry map kept only when the variable is above 0."""
    match = _FILTERED.match(expression)
    assert match, f"not a one-entry map kept when var.X > 0: {expression}"
    return match.group(3), match.group(4), match.group(5)


def _api_secret_names(estate: Estate, replicas: int) -> set[str]:
    """The api container's secrets when the service module is given `replicas`."""
    service = locals_of(estate.module_dir("service"))
    assert "local.api_all_secrets" in service["api_container"]["secrets"]
    assert service["api_all_secrets"] == "${merge(local.api_secrets, local.api_read_secrets)}"
    names = set(service["api_secrets"])
    name, value, count = _filtered_entry(service["api_read_secrets"])
    assert count == "database_read_replica_count"
    assert value.endswith(':read_url::"'), value
    if replicas > 0:
        names.add(name)
    return names


def _secret_keys(estate: Estate, replicas: int) -> set[str]:
    """The keys of the database secret when the database module has `replicas`."""
    database = locals_of(estate.module_dir("database"))
    version = resources(estate.module_dir("database"))[("aws_secretsmanager_secret_version", "database")]
    secret = version["secret_string"]
    assert secret.startswith("${jsonencode(merge({") and secret.endswith("}, local.read_secret))}"), secret
    keys = set(re.findall(r"(\w+) = ", secret[len("${jsonencode(merge({") :]))
    name, value, count = _filtered_entry(database["read_secret"])
    assert count == "read_replica_count"
    assert value == "local.read_url"
    if replicas > 0:
        keys.add(name)
    return keys


@pytest.mark.parametrize("replicas", [0, 1, 2])
def test_the_api_gets_database_read_url_exactly_when_there_is_a_replica(estate: Estate, replicas: int):
    names = _api_secret_names(estate, replicas)
    keys = _secret_keys(estate, replicas)
    assert ("DATABASE_READ_URL" in names) == (replicas > 0)
    # ECS refuses to start a task whose secret lacks a key it names: the key exists exactly then.
    assert ("read_url" in keys) == (replicas > 0)


def test_both_modules_get_the_same_replica_count(estate: Estate):
    service = estate.calls["service"]["database_read_replica_count"]
    assert service == estate.calls["database"]["read_replica_count"]
    replicas = estate.module_var("database", "read_replica_count")
    assert estate.module_var("service", "database_read_replica_count") == replicas
    assert ("DATABASE_READ_URL" in _api_secret_names(estate, replicas)) == (replicas > 0)


def test_production_reads_its_replica_and_staging_has_none(production: Estate, staging: Estate):
    assert "DATABASE_READ_URL" in _api_secret_names(production, production.module_var("database", "read_replica_count"))
    assert "DATABASE_READ_URL" not in _api_secret_names(staging, staging.module_var("database", "read_replica_count"))


def test_the_read_url_is_the_first_replica_directly_over_tls(production: Estate):
    read_url = locals_of(production.module_dir("database"))["read_url"]
    assert "aws_db_instance.replica[0].address" in read_url
    assert "sslmode=verify-full" in read_url and "sslrootcert=" in read_url
    # As the API's least-privilege role (grants replicate with the rest of the database).
    assert "var.app_username" in read_url and "var.master_username" not in read_url
    # Not the PgBouncer sidecar on the task's loopback interface.
    assert "127.0.0.1" not in read_url and "pgbouncer_port" not in read_url


def _default_max_connections() -> int:
    """DATABASE_MAX_CONNECTIONS's default in the binary: the replica pool has as many."""
    config = "\n".join(
        path.read_text()
        for path in sorted((ROOT / "crates" / "dragoman" / "src" / "config").glob("*.rs"))
    )
    match = re.search(r'env = "DATABASE_MAX_CONNECTIONS",\s*default_value_t = (\d+)', config)
    assert match, "DATABASE_MAX_CONNECTIONS's default not found in crates/dragoman/src/config"
    return int(match.group(1))


@pytest.mark.parametrize("env", ["production", "staging"])
def test_direct_replica_connections_fit_under_its_max_connections_even_mid_deploy(env):
    estate = Estate(env)
    extra = estate.module_var("service", "extra_environment") or {}
    per_task = int(extra.get("DATABASE_MAX_CONNECTIONS", _default_max_connections()))
    max_tasks = estate.module_var("service", "max_capacity")
    deploy_percent = estate.module_var("service", "deployment_maximum_percent")
    peak_tasks = math.floor(max_tasks * deploy_percent / 100)
    max_connections = estate.module_var("database", "max_connections")
    assert peak_tasks * per_task <= max_connections - RESERVED, (peak_tasks, per_task, max_connections)
