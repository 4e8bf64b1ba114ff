# Cache: an ElastiCache Redis replication group (cluster mode off by default, on with
# cluster_mode) for the availability cache, the connection registry, rate limits, pub/sub between
# instances and the job queue.
#
# The job queue lives here, so the parameter group sets maxmemory-policy noeviction: when memory
# is full Redis refuses writes (the API answers an error, the monitoring alarm fires) instead of
# silently evicting queued jobs, which volatile-lru or allkeys-lru would do.
#
# AOF: ElastiCache does not offer `appendonly` on Redis 2.8.22 and later (and never on Multi-AZ
# groups; AWS documentation, "Append only files (AOF) in ElastiCache"), so it is not set here:
# ElastiCache would reject or ignore it. Durability comes from a replica in
# another zone with automatic failover, plus daily snapshots. Replication is asynchronous, so a
# failover can lose the last writes acknowledged by the old primary (usually well under a
# second). A job whose enqueue was lost that way never runs, so work that must happen (offer
# timeouts, request expiry) has to be recoverable from PostgreSQL state as well. See the README
# for MemoryDB, the AWS option when a Redis-protocol store must not lose acknowledged writes.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.61"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6"
    }
  }
}

data "aws_caller_identity" "current" {}

locals {
  # Cluster mode always has a replica per shard (replicas_per_node_group >= 1).
  multi_node = var.cluster_mode || var.num_cache_clusters > 1
  family     = "redis${split(".", var.engine_version)[0]}"
  # Where the API connects: the configuration endpoint of a cluster (the cluster client learns
  # the shards from it), else the primary endpoint, which follows failover.
  endpoint = var.cluster_mode ? aws_elasticache_replication_group.this.configuration_endpoint_address : aws_elasticache_replication_group.this.primary_endpoint_address
}

resource "aws_kms_key" "cache" {
  description         = "${var.name} ElastiCache at-rest encryption and credentials"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = var.tags
}

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_elasticache_parameter_group" "this" {
  # A new name when the mode changes: create_before_destroy makes the new group first.
  name   = var.cluster_mode ? "${var.name}-${local.family}-cluster" : "${var.name}-${local.family}"
  family = local.family

  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }

  # A cluster-mode group needs a parameter group with cluster-enabled yes (without cluster mode
  # the family's default, no, is left as it is).
  dynamic "parameter" {
    for_each = var.cluster_mode ? ["yes"] : []
    content {
      name  = "cluster-enabled"
      value = parameter.value
    }
  }

  lifecycle {
    create_before_destroy = true
  }

  tags = var.tags
}

# AUTH tokens: 16 to 128 printable characters without @, " or /; letters and digits are safe in
# a URL too.
resource "random_password" "auth_token" {
  length  = 64
  special = false
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "${var.name} cache, bus and job queue"

  engine         = "redis"
  engine_version = var.engine_version
  node_type      = var.node_type
  port           = 6379

  # Cluster mode off (the seed): one primary and its replicas. On: shards of a primary and
  # replicas each, behind a configuration endpoint.
  cluster_mode            = var.cluster_mode ? "enabled" : "disabled"
  num_cache_clusters      = var.cluster_mode ? null : var.num_cache_clusters
  num_node_groups         = var.cluster_mode ? var.num_node_groups : null
  replicas_per_node_group = var.cluster_mode ? var.replicas_per_node_group : null
  parameter_group_name    = aws_elasticache_parameter_group.this.name
  subnet_group_name       = aws_elasticache_subnet_group.this.name
  security_group_ids      = var.security_group_ids

  automatic_failover_enabled = local.multi_node
  multi_az_enabled           = local.multi_node

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.cache.arn
  transit_encryption_enabled = true
  auth_token                 = random_password.auth_token.result
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = var.snapshot_window
  maintenance_window         = var.maintenance_window
  auto_minor_version_upgrade = true
  apply_immediately          = false

  log_delivery_configuration {
    destination      = var.slow_log_group_name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }

  log_delivery_configuration {
    destination      = var.engine_log_group_name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "engine-log"
  }

  tags = var.tags
}

resource "aws_secretsmanager_secret" "redis" {
  #checkov:skip=CKV2_AWS_57:The AUTH token is generated by Terraform and set on the replication group in the same apply; rotation is a Terraform change (auth_token_update_strategy ROTATE), a rotation Lambda would not update the group
  name                    = "${var.name}/redis"
  description             = "Redis AUTH token and URL for the ${var.name} API tasks"
  kms_key_id              = aws_kms_key.cache.arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "redis" {
  secret_id = aws_secretsmanager_secret.redis.id
  secret_string = jsonencode({
    auth_token = random_password.auth_token.result
    host       = local.endpoint
    port       = tostring(aws_elasticache_replication_group.this.port)
    # rediss: TLS, required because transit encryption is on. With cluster mode, the
    # configuration endpoint, and the API runs with REDIS_CLUSTER=true (the cluster output).
    url     = "rediss://:${random_password.auth_token.result}@${local.endpoint}:${aws_elasticache_replication_group.this.port}"
    cluster = var.cluster_mode ? "true" : "false"
  })
}
