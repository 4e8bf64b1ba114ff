variable "name" {
  description = "Prefix of every name, e.g. dragoman-production."
  type        = string
}

variable "uploads_bucket_arn" {
  description = "ARN of the uploads bucket."
  type        = string
}

variable "uploads_kms_key_arn" {
  description = "KMS key of the uploads bucket."
  type        = string
}

variable "upload_prefixes" {
  description = "Key prefixes of the uploads bucket the application may use."
  type        = list(string)
  default     = ["uploads/", "users/", "sessions/", "assets/"]
}

variable "ecr_repository_arns" {
  description = "ECR repositories the task pulls from (the API and the PgBouncer images)."
  type        = list(string)
}

variable "app_log_group_arn" {
  description = "ARN of the task's log group."
  type        = string
}

variable "secret_arns" {
  description = "Secrets injected into the task besides the JWT key (database, redis)."
  type        = list(string)
}

variable "secret_kms_key_arns" {
  description = "KMS keys of those secrets."
  type        = list(string)
}

variable "enable_execute_command" {
  description = "Grant the task role what ECS Exec needs."
  type        = bool
  default     = false
}

variable "exec_kms_key_arn" {
  description = "KMS key of ECS Exec sessions (used only when enable_execute_command is true)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
