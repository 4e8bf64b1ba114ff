"""The cache module's cluster mode: off by default (the seed's single replication group), and
when on, a cluster-mode group whose configuration endpoint the API is given with
REDIS_CLUSTER=true."""

import json

from hclexpr import evaluate
from hcl import Estate, locals_of, variables


def test_cluster_mode_is_a_variable_off_by_default(production: Estate, staging: Estate):
    declared = variables(production.module_dir("cache"))
    assert declared["cluster_mode"]["default"] is False
    assert declared["num_node_groups"]["default"] == 3
    assert declared["replicas_per_node_group"]["default"] == 1
    for estate in (production, staging):
        assert estate.module_var("cache", "cluster_mode") is False


def test_off_keeps_the_seed_group_and_on_makes_a_cluster(production: Estate):
    group = production.resource("cache", "aws_elasticache_replication_group", "this")
    assert group["cluster_mode"] == '${var.cluster_mode ? "enabled" : "disabled"}'
    assert group["num_cache_clusters"] == "${var.cluster_mode ? null : var.num_cache_clusters}"
    assert group["num_node_groups"] == "${var.cluster_mode ? var.num_node_groups : null}"
    assert (
        group["replicas_per_node_group"]
        == "${var.cluster_mode ? var.replicas_per_node_group : null}"
    )
    assert production.attr("cache", "aws_elasticache_replication_group", "this", "node_type") == (
        "cache.r6g.large"
    )
    # Failover is on whenever there is a replica, which cluster mode always has.
    multi_node = locals_of(production.module_dir("cache"))["multi_node"]
    assert multi_node == "${var.cluster_mode || var.num_cache_clusters > 1}"


def test_the_parameter_group_enables_cluster_mode_only_when_on(production: Estate):
    group = production.resource("cache", "aws_elasticache_parameter_group", "this")
    static = {p["name"]: p["value"] for p in group["parameter"]}
    assert "cluster-enabled" not in static
    dynamic = group["dynamic"][0]["parameter"]
    assert dynamic["for_each"] == '${var.cluster_mode ? ["yes"] : []}'
    assert dynamic["content"][0]["name"] == "cluster-enabled"


def test_the_secret_holds_the_configuration_endpoint_when_on(production: Estate):
    endpoint = locals_of(production.module_dir("cache"))["endpoint"]
    assert endpoint.startswith("${var.cluster_mode ? aws_elasticache_replication_group.this.configuration_endpoint_address")
    assert endpoint.endswith(": aws_elasticache_replication_group.this.primary_endpoint_address}")
    secret = production.resource("cache", "aws_secretsmanager_secret_version", "redis")
    for cluster_mode, host in ((True, "config.cache"), (False, "primary.cache")):
        refs = {
            "var.cluster_mode": cluster_mode,
            "local.endpoint": evaluate(endpoint, lambda name: {
                "var.cluster_mode": cluster_mode,
                "aws_elasticache_replication_group.this.configuration_endpoint_address": "config.cache",
                "aws_elasticache_replication_group.this.primary_endpoint_address": "primary.cache",
            }[name]),
            "random_password.auth_token.result": "token",
            "aws_elasticache_replication_group.this.port": 6379,
        }
        document = json.loads(evaluate(secret["secret_string"], lambda name: refs[name]))
        assert document["url"] == f"rediss://:token@{host}:6379"
        assert document["cluster"] == ("true" if cluster_mode else "false")


def test_the_api_is_told_redis_cluster_from_the_cache_module(estate: Estate):
    assert estate.calls["service"]["redis_cluster"] == "${module.cache.cluster_mode}"
    assert estate.calls["cache"]["cluster_mode"] == "${var.cache_cluster_mode}"
    assert estate.env_vars["cache_cluster_mode"]["default"] is False
    service = estate.module_dir("service")
    environment = locals_of(service)["api_environment"]
    assert "tostring(var.redis_cluster)" in str(environment)
    assert variables(service)["redis_cluster"]["default"] is False
