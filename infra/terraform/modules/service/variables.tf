variable "name" {
  description = "Cluster name and prefix of related names, e.g. dragoman-production."
  type        = string
}

variable "service_name" {
  description = "ECS service name, SERVICE_NAME of the API and ServiceName of its metrics (the seed: api-service)."
  type        = string
  default     = "api-service"
}

variable "image_repository_url" {
  description = "ECR repository URL of the API image."
  type        = string
}

variable "image_tag" {
  description = "Tag of the API image to run (the git commit it was built from)."
  type        = string
}

variable "pgbouncer_repository_url" {
  description = "ECR repository URL of the PgBouncer sidecar image (deploy/pgbouncer)."
  type        = string
}

variable "pgbouncer_image_tag" {
  description = "Tag of the PgBouncer image."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64, or ARM64 (Graviton, about 20 % cheaper) when the images are built for arm64."
  type        = string
  default     = "X86_64"
}

variable "task_cpu" {
  description = "Task CPU units (the seed: 512)."
  type        = number
  default     = 512
}

variable "task_memory" {
  description = "Task memory in MiB (the seed: 1024)."
  type        = number
  default     = 1024
}

variable "container_port" {
  description = "Port of the API container (the seed: 3000)."
  type        = number
  default     = 3000
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL for the API container (the seed: 30; the API drains in 25)."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout >= 26 && var.stop_timeout <= 120
    error_message = "The API drains for 25 s after SIGTERM; the stop timeout must exceed that (Fargate allows up to 120 s)."
  }
}

variable "health_check_interval" {
  description = "Seconds between container health checks."
  type        = number
  default     = 10
}

variable "health_check_retries" {
  description = "Failed container health checks before the task is replaced."
  type        = number
  default     = 3
}

variable "health_check_grace_period" {
  description = "Seconds after a task starts during which failed load balancer health checks are ignored."
  type        = number
  default     = 60
}

variable "nofile_limit" {
  description = "Open-file limit of the API container (one file per WebSocket)."
  type        = number
  default     = 65535
}

variable "execution_role_arn" {
  description = "Task execution role (the iam module)."
  type        = string
}

variable "task_role_arn" {
  description = "Task role (the iam module)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the tasks (the network module's tasks group)."
  type        = list(string)
}

variable "target_group_arn" {
  description = "Target group of the load balancer."
  type        = string
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (for ALBRequestCountPerTarget)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the target group (for ALBRequestCountPerTarget)."
  type        = string
}

variable "log_group_name" {
  description = "CloudWatch log group of the task (the seed: /ecs/api-service)."
  type        = string
}

variable "database_secret_arn" {
  description = "Database secret (JSON keys username, password, host, port, dbname, pooled_url, direct_url, and read_url when the database has a read replica)."
  type        = string
}

variable "database_read_replica_count" {
  description = "Read replicas of the database (the database module's read_replica_count): above 0 the API gets DATABASE_READ_URL from the secret's read_url."
  type        = number
  default     = 0
}

variable "redis_secret_arn" {
  description = "Redis secret (JSON key url)."
  type        = string
}

variable "redis_cluster" {
  description = "The Redis of redis_secret_arn is a Redis Cluster (the cache module's cluster_mode): the API runs with REDIS_CLUSTER=true."
  type        = bool
  default     = false
}

variable "jwt_secret_arn" {
  description = "JWT signing key secret (plain string)."
  type        = string
}

variable "uploads_bucket_name" {
  description = "Uploads bucket (S3_BUCKET)."
  type        = string
}

variable "public_url" {
  description = "Public base URL of the API, e.g. https://api.example.com (PUBLIC_URL)."
  type        = string
}

variable "extra_environment" {
  description = "More environment variables for the API container (e.g. RUST_LOG)."
  type        = map(string)
  default     = {}
}

variable "run_migrations_on_start" {
  description = "Run `dragoman migrate` in a container that must succeed before the API container starts."
  type        = bool
  default     = true
}

variable "min_capacity" {
  description = "Minimum task count (the seed: 2)."
  type        = number
  default     = 2
}

variable "max_capacity" {
  description = "Maximum task count (the seed: 6)."
  type        = number
  default     = 6
}

variable "cpu_target_percent" {
  description = "Target average CPU utilisation of the service (the seed: 60)."
  type        = number
  default     = 60
}

variable "request_count_target" {
  description = "Target ALB requests per target per minute (the seed: 1000)."
  type        = number
  default     = 1000
}

variable "deployment_maximum_percent" {
  description = "Upper limit of running tasks during a deploy, in percent of the desired count."
  type        = number
  default     = 150
}

variable "enable_execute_command" {
  description = "Allow ECS Exec into running tasks (the iam module's variable of the same name must match)."
  type        = bool
  default     = false
}

variable "exec_kms_key_arn" {
  description = "KMS key that encrypts ECS Exec sessions (and their logs); the monitoring module's key."
  type        = string
}

variable "pgbouncer_port" {
  description = "Port PgBouncer listens on, on the task's loopback interface."
  type        = number
  default     = 6432
}

variable "pgbouncer_default_pool_size" {
  description = "Server connections per task in normal operation."
  type        = number
  default     = 16
}

variable "pgbouncer_min_pool_size" {
  description = "Server connections kept open per task when idle."
  type        = number
  default     = 2
}

variable "pgbouncer_reserve_pool_size" {
  description = "Extra server connections a task may open when clients wait (reserve_pool_timeout)."
  type        = number
  default     = 4
}

variable "pgbouncer_max_db_connections" {
  description = "Hard ceiling of server connections per task: the figure the max_connections arithmetic uses."
  type        = number
  default     = 20
}

variable "pgbouncer_max_client_conn" {
  description = "Client connections PgBouncer accepts from the API (its pool size must stay below)."
  type        = number
  default     = 500
}

variable "pgbouncer_cpu" {
  description = "CPU units reserved for the sidecar out of the task's."
  type        = number
  default     = 64
}

variable "pgbouncer_memory" {
  description = "Hard memory limit of the sidecar in MiB."
  type        = number
  default     = 128
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
