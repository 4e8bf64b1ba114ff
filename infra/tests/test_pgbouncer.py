"""The PgBouncer sidecar: its pool arithmetic against max_connections, its configuration, and
its entrypoint (run for real, in render-only mode)."""

import math
import re
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hcl import ROOT, Estate, locals_of

PGBOUNCER = ROOT / "deploy" / "pgbouncer"

# Connections PostgreSQL and RDS keep for superusers, and what is left for direct connections
# (migrations, an operator's psql): deploy/pgbouncer/README.md.
SUPERUSER_RESERVED = 3
RDS_SUPERUSER_RESERVED = 2
DIRECT_RESERVE = 15


@pytest.mark.parametrize("env", ["production", "staging"])
def test_fleet_of_poolers_stays_under_max_connections_even_mid_deploy(env):
    estate = Estate(env)
    max_connections = estate.module_var("database", "max_connections")
    max_tasks = estate.module_var("service", "max_capacity")
    deploy_percent = estate.module_var("service", "deployment_maximum_percent")
    per_task = estate.module_var("service", "pgbouncer_max_db_connections")

    peak_tasks = math.floor(max_tasks * deploy_percent / 100)
    budget = max_connections - SUPERUSER_RESERVED - RDS_SUPERUSER_RESERVED - DIRECT_RESERVE
    assert peak_tasks * per_task <= budget, (peak_tasks, per_task, budget)


def test_production_pool_numbers_are_the_documented_ones(production: Estate):
    assert production.module_var("database", "max_connections") == 200
    assert production.module_var("service", "max_capacity") == 6
    assert production.module_var("service", "deployment_maximum_percent") == 150
    assert production.module_var("service", "pgbouncer_max_db_connections") == 20
    default = production.module_var("service", "pgbouncer_default_pool_size")
    reserve = production.module_var("service", "pgbouncer_reserve_pool_size")
    assert (default, reserve) == (16, 4)
    readme = (PGBOUNCER / "README.md").read_text()
    assert "floor(180 / 9) | **20**" in readme


@pytest.mark.parametrize("env", ["production", "staging"])
def test_pools_fit_under_the_per_task_ceiling(env):
    estate = Estate(env)
    default = estate.module_var("service", "pgbouncer_default_pool_size")
    reserve = estate.module_var("service", "pgbouncer_reserve_pool_size")
    assert default + reserve <= estate.module_var("service", "pgbouncer_max_db_connections")


def _ini() -> dict[str, str]:
    values = {}
    for line in (PGBOUNCER / "pgbouncer.ini").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(";") or line.startswith("["):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def test_configuration_is_safe_for_sqlx_through_pgbouncer_1_18():
    ini = _ini()
    assert ini["pool_mode"] == "transaction"
    assert ini["server_reset_query"] == "DEALLOCATE ALL"
    assert ini["server_reset_query_always"] == "1"
    assert ini["ignore_startup_parameters"] == "extra_float_digits"
    assert ini["max_db_connections"] == "@MAX_DB_CONNECTIONS@"
    assert "max_prepared_statements" not in ini  # unknown to 1.18


def test_task_definition_passes_every_setting_the_entrypoint_reads(production: Estate):
    sidecar = locals_of(production.module_dir("service"))["pgbouncer_container"]
    passed = {item["name"] for item in sidecar["environment"]} | {item["name"] for item in sidecar["secrets"]}
    for name in ("PGBOUNCER_DB_HOST", "PGBOUNCER_DB_NAME", "PGBOUNCER_DB_USER", "PGBOUNCER_DB_PASSWORD", "PGBOUNCER_MAX_DB_CONNECTIONS"):
        assert name in passed
    entrypoint = (PGBOUNCER / "entrypoint.sh").read_text()
    for name in passed:
        assert name in entrypoint, f"{name} is set by the task but not read by the entrypoint"


def _render(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGBOUNCER_TEMPLATE": str(PGBOUNCER / "pgbouncer.ini"),
        "PGBOUNCER_RUNTIME_DIR": str(tmp_path / "run"),
        "PGBOUNCER_RENDER_ONLY": "1",
        "PGBOUNCER_DB_HOST": "db.example.internal",
        "PGBOUNCER_DB_NAME": "dragoman",
        "PGBOUNCER_DB_USER": "dragoman",
        "PGBOUNCER_DB_PASSWORD": 'pa"ss',
    }
    env.update(overrides)
    return subprocess.run(["bash", str(PGBOUNCER / "entrypoint.sh")], env=env, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed to run the entrypoint")
def test_entrypoint_renders_every_placeholder(tmp_path):
    result = _render(tmp_path, PGBOUNCER_MAX_DB_CONNECTIONS="20")
    assert result.returncode == 0, result.stderr
    rendered = (tmp_path / "run" / "pgbouncer.ini").read_text()
    assert not re.search(r"@[A-Z_]+@", rendered)
    assert "dragoman = host=db.example.internal port=5432 dbname=dragoman" in rendered
    assert "max_db_connections = 20" in rendered
    assert f"auth_file = {tmp_path / 'run'}/userlist.txt" in rendered
    assert (tmp_path / "run" / "userlist.txt").read_text() == '"dragoman" "pa""ss"\n'
    assert oct((tmp_path / "run" / "userlist.txt").stat().st_mode & 0o777) == "0o600"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed to run the entrypoint")
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"PGBOUNCER_DB_PASSWORD": ""}, "PGBOUNCER_DB_PASSWORD is not set"),
        ({"PGBOUNCER_DEFAULT_POOL_SIZE": "lots"}, "is not a number"),
        ({"PGBOUNCER_DEFAULT_POOL_SIZE": "18"}, "exceeds max_db_connections"),
        ({"PGBOUNCER_POOL_MODE": "session"}, "not supported"),
        ({"PGBOUNCER_DB_HOST": "db host; x"}, "characters not allowed"),
    ],
)
def test_entrypoint_refuses_bad_settings(tmp_path, overrides, message):
    result = _render(tmp_path, **overrides)
    assert result.returncode == 2
    assert message in result.stderr
