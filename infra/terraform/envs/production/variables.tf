variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "Two availability zones of the region."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]
}

variable "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "domain_name" {
  description = "Host name of the API, e.g. api.example.com."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate covering domain_name, in the same region."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 zone for the API's alias record; empty to manage DNS elsewhere."
  type        = string
  default     = ""
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to upload to and read from the uploads bucket."
  type        = list(string)
}

variable "image_tag" {
  description = "Tag of the API image in ECR (the git commit of the build)."
  type        = string
}

variable "pgbouncer_image_tag" {
  description = "Tag of the PgBouncer sidecar image in ECR."
  type        = string
}

variable "db_read_replica_count" {
  description = "Read replicas of the database (the seed has read replicas; 0 saves their cost until reads need them)."
  type        = number
  default     = 1
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
  default     = 365
}

variable "alarm_emails" {
  description = "E-mail addresses that receive alarms besides Slack."
  type        = list(string)
  default     = []
}

variable "slack_team_id" {
  description = "Slack workspace id, once authorised in the AWS Chatbot console."
  type        = string
  default     = ""
}

variable "slack_channel_id" {
  description = "Slack channel id for alarms."
  type        = string
  default     = ""
}

variable "enable_execute_command" {
  description = "Allow ECS Exec into running tasks."
  type        = bool
  default     = false
}

variable "extra_environment" {
  description = "More environment variables for the API container."
  type        = map(string)
  default     = {}
}

variable "cache_cluster_mode" {
  description = "Run the cache as a Redis Cluster (three shards of a primary and a replica) instead of the seed's one primary and one replica."
  type        = bool
  default     = false
}
