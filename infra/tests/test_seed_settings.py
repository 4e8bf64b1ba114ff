"""The seed's settings, read from the Terraform that would be applied.

Each test reads a resource argument in a module and follows it to the value the production
environment passes (or the module's default), so changing either the environment, the module
default or the resource itself makes these fail.
"""

from hcl import Estate, locals_of

# ---------------------------------------------------------------------------------------------
# Load balancer
# ---------------------------------------------------------------------------------------------


def test_alb_idle_timeout_is_120_seconds(production: Estate):
    assert production.attr("alb", "aws_lb", "this", "idle_timeout") == 120


def test_target_group_on_port_3000_with_lb_cookie_stickiness(production: Estate):
    assert production.attr("alb", "aws_lb_target_group", "api", "port") == 3000
    assert production.attr("alb", "aws_lb_target_group", "api", "stickiness", 0, "enabled") is True
    assert production.attr("alb", "aws_lb_target_group", "api", "stickiness", 0, "type") == "lb_cookie"


def test_health_check_get_health_every_10s_3_failures(production: Estate):
    check = ("alb", "aws_lb_target_group", "api", "health_check", 0)
    assert production.attr(*check, "path") == "/health"
    assert production.attr(*check, "interval") == 10
    assert production.attr(*check, "unhealthy_threshold") == 3
    assert production.attr(*check, "enabled") is True


def test_deregistration_delay_matches_the_25s_drain_within_the_stop_timeout(production: Estate):
    delay = production.attr("alb", "aws_lb_target_group", "api", "deregistration_delay")
    assert delay == 25
    assert production.module_var("service", "stop_timeout") > delay


def test_https_listener_and_http_redirect(estate: Estate):
    https = estate.resource("alb", "aws_lb_listener", "https")
    assert https["protocol"] == "HTTPS" and https["port"] == 443
    assert "TLS13" in estate.attr("alb", "aws_lb_listener", "https", "ssl_policy")
    redirect = estate.resource("alb", "aws_lb_listener", "http_redirect")
    action = redirect["default_action"][0]
    assert action["type"] == "redirect"
    assert action["redirect"][0]["protocol"] == "HTTPS"


# ---------------------------------------------------------------------------------------------
# ECS service
# ---------------------------------------------------------------------------------------------


def test_task_is_512_cpu_1024_mib_fargate(production: Estate):
    assert production.attr("service", "aws_ecs_task_definition", "api", "cpu") == 512
    assert production.attr("service", "aws_ecs_task_definition", "api", "memory") == 1024
    assert production.attr("service", "aws_ecs_task_definition", "api", "requires_compatibilities") == ["FARGATE"]


def _container(estate: Estate, local_name: str) -> dict:
    return locals_of(estate.module_dir("service"))[local_name]


def test_api_container_port_3000_stop_timeout_30_and_binary_healthcheck(production: Estate):
    api = _container(production, "api_container")
    assert api["name"] == "api"
    assert production.value("service", api["stopTimeout"]) == 30
    assert production.value("service", api["portMappings"][0]["containerPort"]) == 3000
    assert api["healthCheck"]["command"] == ["CMD", "/usr/local/bin/dragoman", "healthcheck"]
    assert api["readonlyRootFilesystem"] is True
    assert "pgbouncer" in api["dependsOn"] and "HEALTHY" in api["dependsOn"]


def test_api_logs_go_to_ecs_api_service(production: Estate):
    log_config = locals_of(production.module_dir("service"))["log_configuration"]
    assert "awslogs" in str(log_config)
    assert "var.log_group_name" in str(log_config)
    assert production.calls["service"]["log_group_name"] == "${module.monitoring.app_log_group_name}"
    group = production.attr("monitoring", "aws_cloudwatch_log_group", "app", "name")
    assert group == "/ecs/api-service"
    assert production.attr("monitoring", "aws_cloudwatch_log_group", "app", "retention_in_days") > 0


def test_secrets_from_secrets_manager(production: Estate):
    secrets = locals_of(production.module_dir("service"))["api_secrets"]
    assert set(secrets) == {"DATABASE_URL", "REDIS_URL", "JWT_SECRET"}
    assert secrets["DATABASE_URL"].endswith(":pooled_url::")
    migrate = _container(production, "migrate_container")
    assert migrate["command"] == ["migrate"]
    assert "direct_url" in str(migrate["secrets"])


def test_pgbouncer_sidecar_is_essential_in_the_task(production: Estate):
    sidecar = _container(production, "pgbouncer_container")
    assert sidecar["name"] == "pgbouncer"
    assert sidecar["essential"] is True
    env = {item["name"]: item["value"] for item in sidecar["environment"]}
    assert env["PGBOUNCER_POOL_MODE"] == "transaction"
    assert env["PGBOUNCER_LISTEN_ADDR"] == "127.0.0.1"


def test_autoscaling_two_to_six_tasks(production: Estate):
    assert production.attr("service", "aws_appautoscaling_target", "api", "min_capacity") == 2
    assert production.attr("service", "aws_appautoscaling_target", "api", "max_capacity") == 6


def test_cpu_target_tracking_at_60_percent(production: Estate):
    config = ("service", "aws_appautoscaling_policy", "cpu", "target_tracking_scaling_policy_configuration", 0)
    assert production.attr(*config, "target_value") == 60
    metric = production.attr(*config, "predefined_metric_specification", 0, "predefined_metric_type")
    assert metric == "ECSServiceAverageCPUUtilization"


def test_request_count_target_tracking_at_1000_per_target(production: Estate):
    config = ("service", "aws_appautoscaling_policy", "requests", "target_tracking_scaling_policy_configuration", 0)
    assert production.attr(*config, "target_value") == 1000
    spec = production.resource("service", "aws_appautoscaling_policy", "requests")[
        "target_tracking_scaling_policy_configuration"
    ][0]["predefined_metric_specification"][0]
    assert spec["predefined_metric_type"] == "ALBRequestCountPerTarget"
    assert "alb_arn_suffix" in spec["resource_label"] and "target_group_arn_suffix" in spec["resource_label"]


def test_deployment_circuit_breaker_rolls_back(estate: Estate):
    breaker = estate.resource("service", "aws_ecs_service", "api")["deployment_circuit_breaker"][0]
    assert breaker == {"enable": True, "rollback": True}
    assert estate.resource("service", "aws_ecs_service", "api")["network_configuration"][0]["assign_public_ip"] is False


# ---------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------


def test_rds_is_r6g_large_multi_az_encrypted(production: Estate):
    db = ("database", "aws_db_instance", "primary")
    assert production.attr(*db, "instance_class") == "db.r6g.large"
    assert production.attr(*db, "multi_az") is True
    assert production.attr(*db, "storage_encrypted") is True
    assert production.attr(*db, "deletion_protection") is True
    assert production.attr(*db, "publicly_accessible") is False


def test_rds_gp3_with_3000_iops(production: Estate):
    assert production.attr("database", "aws_db_instance", "primary", "storage_type") == "gp3"
    assert production.module_var("database", "iops") == 3000
    # 3000 IOPS is the gp3 baseline below 400 GiB; storage autoscaling must stay below too.
    assert production.module_var("database", "allocated_storage") < 400
    assert production.module_var("database", "max_allocated_storage") < 400


def test_rds_seven_day_backups(production: Estate):
    assert production.attr("database", "aws_db_instance", "primary", "backup_retention_period") == 7


def test_rds_parameter_group_max_connections_200(production: Estate):
    group = production.resource("database", "aws_db_parameter_group", "this")
    params = {p["name"]: p for p in group["parameter"]}
    assert production.value("database", params["max_connections"]["value"]) == 200
    assert params["rds.force_ssl"]["value"] == "1"


# ---------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------


def test_redis_replication_group_encrypted_with_auth_and_failover(production: Estate):
    group = ("cache", "aws_elasticache_replication_group", "this")
    assert production.attr(*group, "node_type") == "cache.r6g.large"
    assert production.attr(*group, "at_rest_encryption_enabled") is True
    assert production.attr(*group, "transit_encryption_enabled") is True
    assert "random_password.auth_token" in production.resource(*group)["auth_token"]
    assert production.module_var("cache", "num_cache_clusters") == 2
    multi_node = locals_of(production.module_dir("cache"))["multi_node"]
    assert multi_node == "${var.cluster_mode || var.num_cache_clusters > 1}"
    assert production.resource(*group)["automatic_failover_enabled"] == "${local.multi_node}"


def test_redis_parameter_group_noeviction_without_aof(production: Estate):
    group = production.resource("cache", "aws_elasticache_parameter_group", "this")
    params = {p["name"]: p["value"] for p in group["parameter"]}
    assert params["maxmemory-policy"] == "noeviction"
    # ElastiCache does not support AOF on Redis 2.8.22+; setting it would break the apply.
    assert "appendonly" not in params


# ---------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------


def test_logs_move_to_glacier_after_30_days(production: Estate):
    rules = production.resource("storage", "aws_s3_bucket_lifecycle_configuration", "logs")["rule"]
    transitions = [t for rule in rules for t in rule.get("transition", [])]
    assert transitions, "the logs bucket has no transition rule"
    assert all(t["storage_class"] == "GLACIER" for t in transitions)
    assert [production.value("storage", t["days"]) for t in transitions] == [30]


def test_uploads_bucket_private_encrypted_versioned(production: Estate):
    block = production.resource("storage", "aws_s3_bucket_public_access_block", "uploads")
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    versioning = production.resource("storage", "aws_s3_bucket_versioning", "uploads")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    sse = production.resource("storage", "aws_s3_bucket_server_side_encryption_configuration", "uploads")
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"


def test_uploads_lifecycle_expires_abandoned_uploads_and_old_versions(production: Estate):
    rules = {r["id"]: r for r in production.resource("storage", "aws_s3_bucket_lifecycle_configuration", "uploads")["rule"]}
    abandoned = rules["expire-abandoned-uploads"]
    assert "tag" in abandoned["filter"][0]
    assert production.value("storage", abandoned["expiration"][0]["days"]) == 1
    assert production.module_var("storage", "pending_upload_tag_key") == "upload-state"
    tidy = rules["tidy-versions-and-multipart"]
    assert production.value("storage", tidy["noncurrent_version_expiration"][0]["noncurrent_days"]) > 0


def test_uploads_cors_allows_put(production: Estate):
    cors = production.resource("storage", "aws_s3_bucket_cors_configuration", "uploads")["cors_rule"]
    assert any("PUT" in rule["allowed_methods"] for rule in cors)


# ---------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------


def _queries(estate: Estate, alarm: str) -> dict:
    return {q["id"]: q for q in estate.resource("monitoring", "aws_cloudwatch_metric_alarm", alarm)["metric_query"]}


def test_api_5xx_rate_alarm_over_5_percent(production: Estate):
    alarm = ("monitoring", "aws_cloudwatch_metric_alarm", "api_5xx_rate")
    assert production.attr(*alarm, "threshold") == 5
    assert production.attr(*alarm, "comparison_operator") == "GreaterThanThreshold"
    queries = _queries(production, "api_5xx_rate")
    metrics = {q["metric"][0]["metric_name"] for q in queries.values() if "metric" in q}
    assert metrics == {"HTTPCode_Target_5XX_Count", "RequestCount"}
    expression = queries["error_rate"]["expression"]
    assert "100 * errors / requests" in expression


def test_match_time_p95_alarm_over_45_seconds(production: Estate):
    alarm = ("monitoring", "aws_cloudwatch_metric_alarm", "match_time_p95")
    assert production.attr(*alarm, "namespace") == "Dragoman"
    assert production.attr(*alarm, "metric_name") == "MatchTime"
    assert production.attr(*alarm, "extended_statistic") == "p95"
    assert production.attr(*alarm, "unit") == "Milliseconds"
    assert production.attr(*alarm, "threshold") == 45000
    dims = production.resource(*alarm)["dimensions"]
    assert production.value("monitoring", dims["ServiceName"]) == "api-service"


def test_running_tasks_at_maximum_alarm(production: Estate):
    alarm = ("monitoring", "aws_cloudwatch_metric_alarm", "tasks_at_maximum")
    assert production.attr(*alarm, "metric_name") == "RunningTaskCount"
    assert production.attr(*alarm, "comparison_operator") == "GreaterThanOrEqualToThreshold"
    assert production.attr(*alarm, "threshold") == production.attr("service", "aws_appautoscaling_target", "api", "max_capacity") == 6


def test_dead_jobs_alarm_fires_when_dead_letters_grow(production: Estate):
    queries = _queries(production, "dead_jobs_growing")
    assert queries["dead"]["metric"][0]["metric_name"] == "DeadJobs"
    assert "DIFF(dead)" in queries["growth"]["expression"]


def test_every_alarm_notifies_the_sns_topic(estate: Estate):
    from hcl import resources

    alarms = {k: v for k, v in resources(estate.module_dir("monitoring")).items() if k[0] == "aws_cloudwatch_metric_alarm"}
    assert len(alarms) >= 7
    for key, alarm in alarms.items():
        assert alarm["alarm_actions"] == "${local.alarm_actions}", key


def test_slack_delivery_through_chatbot(production: Estate):
    chatbot = production.resource("monitoring", "aws_chatbot_slack_channel_configuration", "alarms")
    assert chatbot["sns_topic_arns"] == ["${aws_sns_topic.alarms.arn}"]
