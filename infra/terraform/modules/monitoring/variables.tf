variable "name" {
  description = "Prefix of every name, e.g. dragoman-production."
  type        = string
}

variable "service_name" {
  description = "The API's SERVICE_NAME: the `service` field of its log lines and the ServiceName dimension of its custom metrics."
  type        = string
  default     = "api-service"
}

variable "app_log_group_name" {
  description = "Log group of the API tasks (the seed's /ecs/api-service)."
  type        = string
  default     = "/ecs/api-service"
}

variable "log_retention_days" {
  description = "Retention of every log group, in days."
  type        = number
  default     = 365
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the application's Embedded Metric Format metrics."
  type        = string
  default     = "Dragoman"
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm)."
  type        = list(string)
  default     = []
}

variable "slack_team_id" {
  description = "Slack workspace id authorised in the AWS Chatbot console; empty disables Slack delivery."
  type        = string
  default     = ""
}

variable "slack_channel_id" {
  description = "Slack channel id that receives alarms; empty disables Slack delivery."
  type        = string
  default     = ""
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (the LoadBalancer dimension)."
  type        = string
}

variable "ecs_cluster_name" {
  description = "ECS cluster name (ClusterName dimension)."
  type        = string
}

variable "ecs_service_name" {
  description = "ECS service name (ServiceName dimension of Container Insights)."
  type        = string
}

variable "max_task_count" {
  description = "Maximum task count of the service's autoscaling; the alarm fires at it."
  type        = number
  default     = 6
}

variable "tasks_at_maximum_minutes" {
  description = "Minutes at the maximum task count before the alarm fires."
  type        = number
  default     = 15
}

variable "db_instance_identifier" {
  description = "Identifier of the RDS primary."
  type        = string
}

variable "cache_replication_group_id" {
  description = "ElastiCache replication group id."
  type        = string
}

variable "cache_node_count" {
  description = "Number of nodes in the replication group, or in each shard when cache_shards > 0 (one alarm of each kind per node)."
  type        = number
  default     = 2
}

variable "cache_shards" {
  description = "Shards of a cluster-mode replication group; 0: cluster mode off."
  type        = number
  default     = 0
}

variable "api_5xx_rate_threshold_percent" {
  description = "API 5xx rate, in percent of requests, above which the alarm fires (the seed: 5)."
  type        = number
  default     = 5
}

variable "api_5xx_rate_evaluation_minutes" {
  description = "Consecutive minutes over the threshold before the 5xx alarm fires."
  type        = number
  default     = 5
}

variable "match_time_p95_threshold_ms" {
  description = "Match time p95, in milliseconds, above which the alarm fires (the seed: 45 s)."
  type        = number
  default     = 45000
}

variable "rds_cpu_threshold_percent" {
  description = "RDS CPU alarm threshold."
  type        = number
  default     = 80
}

variable "rds_free_storage_threshold_gib" {
  description = "RDS free storage alarm threshold in GiB."
  type        = number
  default     = 10
}

variable "rds_connections_threshold" {
  description = "RDS connection count alarm threshold (max_connections is 200)."
  type        = number
  default     = 180
}

variable "redis_cpu_threshold_percent" {
  description = "Redis EngineCPUUtilization alarm threshold."
  type        = number
  default     = 75
}

variable "redis_memory_threshold_percent" {
  description = "Redis DatabaseMemoryUsagePercentage alarm threshold."
  type        = number
  default     = 75
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
