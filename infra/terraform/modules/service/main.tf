# Service: the ECS cluster and the Fargate service that runs the API, as in the seed: a task of
# 512 CPU units and 1024 MiB, the app on port 3000 with awslogs to /ecs/api-service, a PgBouncer
# sidecar, secrets from Secrets Manager, a 30 s stop timeout, target tracking on CPU (60 %) and
# on ALB requests per target (1000), 2 to 6 tasks, and a deployment circuit breaker that rolls a
# failed deploy back.
#
# Containers of the API task, in start order:
# 1. migrate (optional, not essential): `dragoman migrate` over a direct TLS connection to RDS,
#    then exits. The API starts only if it exited 0, so a new version never serves before its
#    migrations ran. Migrations must stay compatible with the version still serving.
# 2. pgbouncer (essential): transaction pooling on 127.0.0.1:6432; at most
#    pgbouncer_max_db_connections server connections per task (deploy/pgbouncer/README.md).
# 3. api (essential): starts once PgBouncer is healthy; its DATABASE_URL points at the sidecar.
# On stop ECS signals api first (SIGTERM, then 30 s before SIGKILL) and pgbouncer after it,
# because api depends on pgbouncer.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.61"
    }
  }
}

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name

  api_image       = "${var.image_repository_url}:${var.image_tag}"
  pgbouncer_image = "${var.pgbouncer_repository_url}:${var.pgbouncer_image_tag}"

  log_configuration = {
    for prefix in ["api", "pgbouncer", "migrate"] : prefix => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group_name
        awslogs-region        = local.region
        awslogs-stream-prefix = prefix
        # Lines are written without blocking the process when CloudWatch is slow; the buffer
        # bounds the memory this may use.
        mode            = "non-blocking"
        max-buffer-size = "4m"
      }
    }
  }

  api_environment = merge(
    {
      PORT           = tostring(var.container_port)
      SERVICE_NAME   = var.service_name
      S3_BUCKET      = var.uploads_bucket_name
      PUBLIC_URL     = var.public_url
      DATA_DIR       = "/data"
      LOG_FORMAT     = "json"
      METRICS_FORMAT = "emf"
      AWS_REGION     = local.region
      # DATABASE_URL is the PgBouncer 1.18 sidecar in transaction pooling: no named prepared
      # statements (without this, statements of one client collide with another's).
      DATABASE_POOLER = "transaction"
      # Behind the ALB every connection comes from the balancer; the client is the last
      # X-Forwarded-For entry, which the ALB appends (per-address login limits need it).
      TRUST_FORWARDED_FOR = "true"
      # The cluster client and hash-tagged keys when the cache is a Redis Cluster.
      REDIS_CLUSTER = tostring(var.redis_cluster)
    },
    var.extra_environment,
  )

  api_secrets = {
    DATABASE_URL = "${var.database_secret_arn}:pooled_url::"
    REDIS_URL    = "${var.redis_secret_arn}:url::"
    JWT_SECRET   = var.jwt_secret_arn
  }
  # The read replica, straight to RDS (not through the sidecar), only when the database module
  # has one: the secret has no read_url key otherwise, and ECS would refuse to start the task.
  api_read_secrets = { for name, from in { DATABASE_READ_URL = "${var.database_secret_arn}:read_url::" } : name => from if var.database_read_replica_count > 0 }
  api_all_secrets  = merge(local.api_secrets, local.api_read_secrets)

  migrate_container = {
    name                   = "migrate"
    image                  = local.api_image
    essential              = false
    command                = ["migrate"]
    readonlyRootFilesystem = true
    environment = [
      { name = "SERVICE_NAME", value = var.service_name },
      { name = "LOG_FORMAT", value = "json" },
      { name = "DATA_DIR", value = "/data" },
    ]
    # As the master user, straight to RDS; it creates or updates the API's role and grants it
    # row access to every table after migrating.
    secrets = [
      { name = "DATABASE_URL", valueFrom = "${var.database_secret_arn}:direct_url::" },
      { name = "DATABASE_APP_USER", valueFrom = "${var.database_secret_arn}:app_username::" },
      { name = "DATABASE_APP_PASSWORD", valueFrom = "${var.database_secret_arn}:app_password::" },
    ]
    mountPoints      = [{ sourceVolume = "data", containerPath = "/data", readOnly = false }]
    logConfiguration = local.log_configuration["migrate"]
  }

  pgbouncer_container = {
    name                   = "pgbouncer"
    image                  = local.pgbouncer_image
    essential              = true
    readonlyRootFilesystem = true
    cpu                    = var.pgbouncer_cpu
    memory                 = var.pgbouncer_memory
    environment = [
      { name = "PGBOUNCER_LISTEN_ADDR", value = "127.0.0.1" },
      { name = "PGBOUNCER_LISTEN_PORT", value = tostring(var.pgbouncer_port) },
      { name = "PGBOUNCER_POOL_MODE", value = "transaction" },
      { name = "PGBOUNCER_DEFAULT_POOL_SIZE", value = tostring(var.pgbouncer_default_pool_size) },
      { name = "PGBOUNCER_MIN_POOL_SIZE", value = tostring(var.pgbouncer_min_pool_size) },
      { name = "PGBOUNCER_RESERVE_POOL_SIZE", value = tostring(var.pgbouncer_reserve_pool_size) },
      { name = "PGBOUNCER_MAX_DB_CONNECTIONS", value = tostring(var.pgbouncer_max_db_connections) },
      { name = "PGBOUNCER_MAX_CLIENT_CONN", value = tostring(var.pgbouncer_max_client_conn) },
      { name = "PGBOUNCER_SERVER_TLS_SSLMODE", value = "verify-full" },
    ]
    secrets = [
      { name = "PGBOUNCER_DB_HOST", valueFrom = "${var.database_secret_arn}:host::" },
      { name = "PGBOUNCER_DB_PORT", valueFrom = "${var.database_secret_arn}:port::" },
      { name = "PGBOUNCER_DB_NAME", valueFrom = "${var.database_secret_arn}:dbname::" },
      # The API's least-privilege role: what the sidecar is given is all the API can do.
      { name = "PGBOUNCER_DB_USER", valueFrom = "${var.database_secret_arn}:app_username::" },
      { name = "PGBOUNCER_DB_PASSWORD", valueFrom = "${var.database_secret_arn}:app_password::" },
    ]
    mountPoints = [{ sourceVolume = "pgbouncer-run", containerPath = "/run/pgbouncer", readOnly = false }]
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/pgbouncer-healthcheck"]
      interval    = 5
      timeout     = 3
      retries     = 3
      startPeriod = 5
    }
    logConfiguration = local.log_configuration["pgbouncer"]
  }

  api_container = {
    name                   = "api"
    image                  = local.api_image
    essential              = true
    readonlyRootFilesystem = true
    stopTimeout            = var.stop_timeout
    portMappings           = [{ containerPort = var.container_port, protocol = "tcp" }]
    environment            = [for k in sort(keys(local.api_environment)) : { name = k, value = local.api_environment[k] }]
    secrets                = [for k in sort(keys(local.api_all_secrets)) : { name = k, valueFrom = local.api_all_secrets[k] }]
    mountPoints            = [{ sourceVolume = "data", containerPath = "/data", readOnly = false }]
    # One open file per WebSocket: the default soft limit would cap connections per task.
    ulimits         = [{ name = "nofile", softLimit = var.nofile_limit, hardLimit = var.nofile_limit }]
    linuxParameters = { initProcessEnabled = true }
    dependsOn = concat(
      [{ containerName = "pgbouncer", condition = "HEALTHY" }],
      var.run_migrations_on_start ? [{ containerName = "migrate", condition = "SUCCESS" }] : [],
    )
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/dragoman", "healthcheck"]
      interval    = var.health_check_interval
      timeout     = 5
      retries     = var.health_check_retries
      startPeriod = 30
    }
    logConfiguration = local.log_configuration["api"]
  }

  containers = concat(
    var.run_migrations_on_start ? [local.migrate_container] : [],
    [local.pgbouncer_container, local.api_container],
  )
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = var.exec_kms_key_arn
      logging    = "OVERRIDE"
      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = var.log_group_name
      }
    }
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_ecs_task_definition" "api" {
  family                   = "${var.name}-${var.service_name}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  container_definitions    = jsonencode(local.containers)

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Task-local scratch volumes (Fargate ephemeral storage). The images declare these paths as
  # VOLUMEs owned by their non-root users, so ECS creates them writable by those users while the
  # root file systems stay read-only.
  volume {
    name = "data"
  }

  volume {
    name = "pgbouncer-run"
  }

  tags = var.tags
}

# For running migrations by hand ahead of a deploy (docs/deploy.md): the migrate container alone.
resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  container_definitions    = jsonencode([merge(local.migrate_container, { essential = true })])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "data"
  }

  tags = var.tags
}

resource "aws_ecs_service" "api" {
  name                    = var.service_name
  cluster                 = aws_ecs_cluster.this.id
  task_definition         = aws_ecs_task_definition.api.arn
  desired_count           = var.min_capacity
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  enable_execute_command  = var.enable_execute_command

  # Rolling deploys: old tasks keep serving until new ones pass the health check; 150 % caps the
  # fleet at 9 tasks during a deploy at the maximum of 6, which the PgBouncer arithmetic allows.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = var.deployment_maximum_percent
  health_check_grace_period_seconds  = var.health_check_grace_period

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  deployment_controller {
    type = "ECS"
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = "api"
    container_port   = var.container_port
  }

  # Autoscaling owns the task count once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  tags = var.tags

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

# ---------------------------------------------------------------------------------------------
# Autoscaling: two target-tracking policies; the larger of their wishes wins.
# ---------------------------------------------------------------------------------------------

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# Requests per target per minute. A WebSocket counts once, at its upgrade: long-lived
# connections show up in CPU, which the other policy tracks.
resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.name}-requests-per-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.request_count_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${var.alb_arn_suffix}/${var.target_group_arn_suffix}"
    }
  }
}
