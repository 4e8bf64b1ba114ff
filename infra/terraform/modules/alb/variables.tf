variable "name" {
  description = "Name of the load balancer and prefix of related names (at most 28 characters)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets, at least two zones."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the load balancer (the network module's alb group)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener (issued and validated outside this module)."
  type        = string
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener (TLS 1.3 and 1.2 only)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "idle_timeout" {
  description = "Seconds an idle connection is kept open (the seed: 120, matched to the WebSocket heartbeat)."
  type        = number
  default     = 120
}

variable "target_port" {
  description = "Port of the API container (the seed: 3000)."
  type        = number
  default     = 3000
}

variable "health_check_path" {
  description = "Health check path (the seed: /health)."
  type        = string
  default     = "/health"
}

variable "health_check_interval" {
  description = "Seconds between health checks (the seed: 10)."
  type        = number
  default     = 10
}

variable "health_check_unhealthy_threshold" {
  description = "Consecutive failures before a target is unhealthy (the seed: 3)."
  type        = number
  default     = 3
}

variable "deregistration_delay" {
  description = "Seconds a deregistered target keeps its in-flight requests: the API's 25 s drain."
  type        = number
  default     = 25
}

variable "stickiness_cookie_duration" {
  description = "Lifetime of the stickiness cookie in seconds."
  type        = number
  default     = 3600
}

variable "deletion_protection" {
  description = "Refuse deletion of the load balancer."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "Bucket for access logs (the storage module's logs bucket, SSE-S3)."
  type        = string
}

variable "waf_log_group_arn" {
  description = "CloudWatch log group for WAF logs (its name must start with aws-waf-logs-)."
  type        = string
}

variable "waf_rate_limit_per_5_minutes" {
  description = "Requests per client address per 5 minutes above which WAF blocks."
  type        = number
  default     = 20000
}

variable "route53_zone_id" {
  description = "Hosted zone for an alias record; empty to manage DNS elsewhere."
  type        = string
  default     = ""
}

variable "domain_name" {
  description = "Host name of the API (the alias record's name, when a zone is given)."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
