# Monitoring: the log groups (with retention and a KMS key), the SNS topic every alarm notifies,
# Slack delivery of that topic through AWS Chatbot, and the alarms.
#
# The seed's three alarms: API 5xx rate over 5 %, match time p95 over 45 s, and the service at
# its maximum task count. Dragoman adds: dead jobs growing, RDS CPU, free storage and
# connections, Redis engine CPU and memory (memory matters because the job queue lives in Redis
# with maxmemory-policy noeviction: a full Redis refuses writes instead of dropping jobs).
#
# Custom metrics (MatchTime, DeadJobs) arrive in the "Dragoman" namespace as CloudWatch Embedded
# Metric Format lines in the application's log stream (METRICS_FORMAT=emf), with the dimension
# ServiceName set to the task's SERVICE_NAME. No agent is needed on Fargate.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.61"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  # ElastiCache names the members of a replication group <id>-001, <id>-002, ..., and those of a
  # cluster-mode group <id>-0001-001 (shard, node); computed from the counts so that the alarms
  # can be planned before the group exists.
  cache_members = var.cache_shards == 0 ? [
    for i in range(var.cache_node_count) : format("%s-%03d", var.cache_replication_group_id, i + 1)
    ] : flatten([
      for s in range(var.cache_shards) : [
        for n in range(var.cache_node_count) : format("%s-%04d-%03d", var.cache_replication_group_id, s + 1, n + 1)
      ]
  ])

  alarm_actions = [aws_sns_topic.alarms.arn]
}

# ---------------------------------------------------------------------------------------------
# Encryption key for logs and the alarm topic
# ---------------------------------------------------------------------------------------------

resource "aws_kms_key" "monitoring" {
  description         = "${var.name} CloudWatch Logs and alarm topic encryption"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncrypts"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:${local.region}:${local.account_id}:log-group:*" }
        }
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "monitoring" {
  name          = "alias/${var.name}-monitoring"
  target_key_id = aws_kms_key.monitoring.key_id
}

# ---------------------------------------------------------------------------------------------
# Log groups
# ---------------------------------------------------------------------------------------------

# The API, its PgBouncer sidecar and the migration container all write here, each under its own
# stream prefix; Logs Insights queries the JSON fields of the API's lines.
resource "aws_cloudwatch_log_group" "app" {
  name              = var.app_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.monitoring.arn
  tags              = var.tags
}

# WAF requires the name to start with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.monitoring.arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "cache" {
  for_each = toset(["slow-log", "engine-log"])

  name              = "/aws/elasticache/${var.cache_replication_group_id}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.monitoring.arn
  tags              = var.tags
}

# ---------------------------------------------------------------------------------------------
# Notification: SNS, then Slack through AWS Chatbot
# ---------------------------------------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.monitoring.arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "alarms" {
  arn = aws_sns_topic.alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "CloudWatchAlarmsPublish"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms.arn
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:aws:cloudwatch:${local.region}:${local.account_id}:alarm:*" }
      }
    }]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  slack_enabled = var.slack_team_id != "" && var.slack_channel_id != ""
}

resource "aws_iam_role" "chatbot" {
  count = local.slack_enabled ? 1 : 0

  name = "${var.name}-chatbot"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "chatbot.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

# What Chatbot needs to render alarm notifications with their graphs, and nothing else: no
# commands run from Slack.
resource "aws_iam_role_policy" "chatbot" {
  count = local.slack_enabled ? 1 : 0

  name = "notifications-only"
  role = aws_iam_role.chatbot[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ThisEstatesAlarms"
        Effect   = "Allow"
        Action   = "cloudwatch:DescribeAlarms"
        Resource = "arn:aws:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*"
      },
      {
        # These actions take no resource-level restriction.
        Sid      = "MetricGraphs"
        Effect   = "Allow"
        Action   = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_chatbot_slack_channel_configuration" "alarms" {
  count = local.slack_enabled ? 1 : 0

  configuration_name = "${var.name}-alarms"
  iam_role_arn       = aws_iam_role.chatbot[0].arn
  slack_team_id      = var.slack_team_id
  slack_channel_id   = var.slack_channel_id
  sns_topic_arns     = [aws_sns_topic.alarms.arn]
  logging_level      = "ERROR"
  # Channel members get read-only CloudWatch access at most, whatever the role allows.
  guardrail_policy_arns = ["arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"]
  tags                  = var.tags
}

# ---------------------------------------------------------------------------------------------
# The seed's three alarms
# ---------------------------------------------------------------------------------------------

# 5xx answered by the API as a share of all requests, per minute, for five minutes in a row.
resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${var.name}-api-5xx-rate"
  alarm_description   = "API error rate: more than ${var.api_5xx_rate_threshold_percent} % of requests answered 5xx by the tasks for ${var.api_5xx_rate_evaluation_minutes} minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate_threshold_percent
  evaluation_periods  = var.api_5xx_rate_evaluation_minutes
  datapoints_to_alarm = var.api_5xx_rate_evaluation_minutes
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "error_rate"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "5xx rate (%)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      period      = 60
      stat        = "Sum"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      period      = 60
      stat        = "Sum"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
    }
  }

  tags = var.tags
}

# p95 of the time from request to accepted offer, in milliseconds, over five minutes. No matches
# in a period is not a breach.
resource "aws_cloudwatch_metric_alarm" "match_time_p95" {
  alarm_name          = "${var.name}-match-time-p95"
  alarm_description   = "Matching latency: p95 of MatchTime above ${var.match_time_p95_threshold_ms} ms."
  namespace           = var.metrics_namespace
  metric_name         = "MatchTime"
  dimensions          = { ServiceName = var.service_name }
  extended_statistic  = "p95"
  unit                = "Milliseconds"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.match_time_p95_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# Autoscaling has nothing left to give: capacity planning (or a raised maximum) is due.
resource "aws_cloudwatch_metric_alarm" "tasks_at_maximum" {
  alarm_name          = "${var.name}-tasks-at-maximum"
  alarm_description   = "The API service has run at its maximum of ${var.max_task_count} tasks for ${var.tasks_at_maximum_minutes} minutes."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.ecs_cluster_name, ServiceName = var.ecs_service_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.tasks_at_maximum_minutes
  datapoints_to_alarm = var.tasks_at_maximum_minutes
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.max_task_count
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# ---------------------------------------------------------------------------------------------
# Alarms Dragoman's own metrics make possible
# ---------------------------------------------------------------------------------------------

# DeadJobs is the length of the dead-letter list. Any increase means a job exhausted its retries.
resource "aws_cloudwatch_metric_alarm" "dead_jobs_growing" {
  alarm_name          = "${var.name}-dead-jobs-growing"
  alarm_description   = "Jobs are being dead-lettered: DeadJobs is above 0 and grew in the last 5 minutes. Read and replay them with the admin API."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "growth"
    expression  = "IF(dead > 0, DIFF(dead), 0)"
    label       = "DeadJobs growth"
    return_data = true
  }

  metric_query {
    id = "dead"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "DeadJobs"
      period      = 300
      stat        = "Maximum"
      dimensions  = { ServiceName = var.service_name }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  alarm_name          = "${var.name}-rds-cpu"
  alarm_description   = "RDS primary CPU above ${var.rds_cpu_threshold_percent} % for 10 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.rds_cpu_threshold_percent
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_free_storage" {
  alarm_name          = "${var.name}-rds-free-storage"
  alarm_description   = "RDS free storage below ${var.rds_free_storage_threshold_gib} GiB."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.rds_free_storage_threshold_gib * 1024 * 1024 * 1024
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# max_connections is 200; PgBouncer caps each task's server connections so the fleet stays under
# it even during a deploy. Getting close means something connects around the poolers.
resource "aws_cloudwatch_metric_alarm" "rds_connections" {
  alarm_name          = "${var.name}-rds-connections"
  alarm_description   = "RDS connections above ${var.rds_connections_threshold} (max_connections is 200)."
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.rds_connections_threshold
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# Redis runs commands on one thread: EngineCPUUtilization is that thread, the figure that matters.
resource "aws_cloudwatch_metric_alarm" "redis_engine_cpu" {
  for_each = toset(local.cache_members)

  alarm_name          = "${var.name}-redis-engine-cpu-${each.value}"
  alarm_description   = "Redis engine thread CPU on ${each.value} above ${var.redis_cpu_threshold_percent} % for 10 minutes."
  namespace           = "AWS/ElastiCache"
  metric_name         = "EngineCPUUtilization"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.redis_cpu_threshold_percent
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "redis_memory" {
  for_each = toset(local.cache_members)

  alarm_name          = "${var.name}-redis-memory-${each.value}"
  alarm_description   = "Redis memory on ${each.value} above ${var.redis_memory_threshold_percent} % of maxmemory. With noeviction, writes (new jobs) fail when it is full."
  namespace           = "AWS/ElastiCache"
  metric_name         = "DatabaseMemoryUsagePercentage"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.redis_memory_threshold_percent
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
