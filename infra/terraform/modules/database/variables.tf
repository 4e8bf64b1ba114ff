variable "name" {
  description = "Identifier of the instance and prefix of related names."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets in at least two zones."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the instances (the network module's database group)."
  type        = list(string)
}

variable "engine_version" {
  description = "PostgreSQL version; a major version alone lets RDS apply minor upgrades."
  type        = string
  default     = "16"
}

variable "instance_class" {
  description = "Instance class (the seed: db.r6g.large)."
  type        = string
  default     = "db.r6g.large"
}

variable "multi_az" {
  description = "Synchronous standby in a second zone with automatic failover (the seed: on)."
  type        = bool
  default     = true
}

variable "allocated_storage" {
  description = "Allocated gp3 storage in GiB. Under 400 GiB the volume has the 3000 IOPS baseline."
  type        = number
  default     = 100
}

variable "max_allocated_storage" {
  description = "Ceiling for storage autoscaling in GiB."
  type        = number
  default     = 390
}

variable "iops" {
  description = "gp3 IOPS (the seed: 3000, which is the baseline below 400 GiB and is then not sent to the API)."
  type        = number
  default     = 3000
}

variable "storage_throughput" {
  description = "gp3 throughput in MiB/s, only sent at 400 GiB or more."
  type        = number
  default     = 500
}

variable "max_connections" {
  description = "PostgreSQL max_connections (the seed: 200)."
  type        = number
  default     = 200
}

variable "backup_retention_days" {
  description = "Days of automated backups and point-in-time recovery (the seed: 7)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 7
    error_message = "Keep at least the seed's 7 days of point-in-time recovery."
  }
}

variable "backup_window" {
  description = "Daily backup window (UTC)."
  type        = string
  default     = "03:00-03:30"
}

variable "maintenance_window" {
  description = "Weekly maintenance window (UTC)."
  type        = string
  default     = "sun:04:00-sun:05:00"
}

variable "deletion_protection" {
  description = "Refuse deletion of the instances."
  type        = bool
  default     = true
}

variable "read_replica_count" {
  description = "Number of read replicas (0 or more)."
  type        = number
  default     = 0
}

variable "replica_instance_class" {
  description = "Instance class of the replicas; null uses instance_class."
  type        = string
  default     = null
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "dragoman"
}

variable "master_username" {
  description = "Master user name: owns the schema; migrations run as it, the API does not."
  type        = string
  default     = "dragoman"
}

variable "app_username" {
  description = "The least-privilege role the API connects as (rows only: `dragoman migrate` creates it and grants it DML on every table)."
  type        = string
  default     = "dragoman_api"
}

variable "ca_bundle_path" {
  description = "Where the API image keeps the RDS certificate authorities, for sslmode=verify-full on direct connections."
  type        = string
  default     = "/etc/ssl/certs/rds-global-bundle.pem"
}

variable "pgbouncer_port" {
  description = "Port of the PgBouncer sidecar inside each task (for the pooled URL)."
  type        = number
  default     = 6432
}

variable "ca_cert_identifier" {
  description = "Certificate authority of the server certificate."
  type        = string
  default     = "rds-ca-rsa2048-g1"
}

variable "log_min_duration_statement_ms" {
  description = "Log statements slower than this many milliseconds."
  type        = number
  default     = 500
}

variable "cloudwatch_logs_exports" {
  description = "Log types exported to CloudWatch Logs."
  type        = list(string)
  default     = ["postgresql", "upgrade"]
}

variable "logs_kms_key_arn" {
  description = "KMS key for the exported-log groups (the monitoring module's key)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the exported-log groups, in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
