"""What each container of the API task is really given, evaluated from the HCL (taskenv.py):
the settings the binary needs behind PgBouncer 1.18 and the ALB, the least-privilege role, and
verified TLS on direct connections. deploy/local/stack boots the fleet with the same evaluation.
"""

from urllib.parse import parse_qs, urlparse

import pytest

from hclexpr import evaluate
from taskenv import TaskEnv

# What only AWS knows, as placeholders (the local stack passes real local values instead).
AWS_ONLY = {
    "aws_s3_bucket.uploads.id": "uploads-bucket",
    "var.domain_name": "api.example.org",
    "data.aws_region.current.name": "us-east-1",
    "random_password.master.result": "masterpw",
    "random_password.app.result": "apppw",
    "aws_db_instance.primary.address": "db.internal",
    "aws_db_instance.primary.port": 5432,
    "aws_db_instance.replica": [{"address": "replica.internal", "port": 5432}],
    "random_password.jwt.result": "j" * 64,
    "random_password.auth_token.result": "tokentoken",
    "aws_elasticache_replication_group.this.primary_endpoint_address": "cache.internal",
    "aws_elasticache_replication_group.this.port": 6379,
}


@pytest.fixture(scope="module", params=["production", "staging"])
def task(request) -> dict:
    env = TaskEnv(request.param, AWS_ONLY)
    return {name: env.container(local) for name, local in
            {"api": "api_container", "migrate": "migrate_container",
             "pgbouncer": "pgbouncer_container"}.items()}


def test_api_speaks_to_pgbouncer_1_18_in_transaction_pooling(task):
    assert task["pgbouncer"]["environment"]["PGBOUNCER_POOL_MODE"] == "transaction"
    assert task["api"]["environment"]["DATABASE_POOLER"] == "transaction"
    url = urlparse(task["api"]["secrets"]["DATABASE_URL"])
    assert (url.hostname, str(url.port)) == ("127.0.0.1", task["pgbouncer"]["environment"]["PGBOUNCER_LISTEN_PORT"])


def test_api_trusts_the_forwarded_for_the_alb_appends(task):
    assert task["api"]["environment"]["TRUST_FORWARDED_FOR"] == "true"


def test_api_and_sidecar_use_the_least_privilege_role_migrations_create(task):
    api_user = urlparse(task["api"]["secrets"]["DATABASE_URL"]).username
    migrate_url = urlparse(task["migrate"]["secrets"]["DATABASE_URL"])
    assert api_user == task["pgbouncer"]["secrets"]["PGBOUNCER_DB_USER"]
    assert api_user == task["migrate"]["secrets"]["DATABASE_APP_USER"]
    assert migrate_url.username != api_user
    assert urlparse(task["api"]["secrets"]["DATABASE_URL"]).password == task["migrate"]["secrets"]["DATABASE_APP_PASSWORD"]
    assert task["pgbouncer"]["secrets"]["PGBOUNCER_DB_PASSWORD"] == task["migrate"]["secrets"]["DATABASE_APP_PASSWORD"]


def test_direct_connections_verify_the_server(task):
    query = parse_qs(urlparse(task["migrate"]["secrets"]["DATABASE_URL"]).query)
    assert query["sslmode"] == ["verify-full"]
    assert query["sslrootcert"] == ["/etc/ssl/certs/rds-global-bundle.pem"]
    assert task["pgbouncer"]["environment"]["PGBOUNCER_SERVER_TLS_SSLMODE"] == "verify-full"


def test_the_replica_is_read_as_the_api_role_with_the_certificate_verified(task):
    if "DATABASE_READ_URL" not in task["api"]["secrets"]:
        return  # staging has no replica (test_read_replica.py checks when it must exist)
    url = urlparse(task["api"]["secrets"]["DATABASE_READ_URL"])
    assert url.hostname == "replica.internal"
    assert url.username == task["migrate"]["secrets"]["DATABASE_APP_USER"]
    assert parse_qs(url.query)["sslmode"] == ["verify-full"]


def test_redis_is_tls_with_auth(task):
    url = urlparse(task["api"]["secrets"]["REDIS_URL"])
    assert url.scheme == "rediss" and url.password == "tokentoken"


def test_unknown_references_are_named():
    env = TaskEnv("production", {})
    with pytest.raises(Exception, match="reference"):
        env.container("api_container")


@pytest.mark.parametrize("text, expected", [
    ('${merge({P = tostring(3), Q = var.a}, {R = "r${var.a}"})}', {"P": "3", "Q": "A", "R": "rA"}),
    ("${[for k in sort(keys(local.m)) : {name = k, value = local.m[k]}]}",
     [{"name": "x", "value": 1}, {"name": "y", "value": 2}]),
    ("x-${var.a}:y::", "x-A:y::"),
    ("${concat([1], var.on ? [2] : [])}", [1]),
    ('${jsonencode({u = var.a, p = tostring(local.m.x)})}', '{"u":"A","p":"1"}'),
    ("${{for k, v in local.m : k => v + 1 if v > 1}}", {"y": 3}),
    ("${var.n >= 2 && !var.on}", True),
])
def test_expressions(text, expected):
    refs = {"var.a": "A", "local.m": {"x": 1, "y": 2}, "var.on": False, "var.n": 2}
    assert evaluate(text, lambda name: refs[name]) == expected
