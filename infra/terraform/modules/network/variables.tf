variable "name" {
  description = "Prefix of every name, e.g. dragoman-production."
  type        = string
}

variable "cidr_block" {
  description = "CIDR block of the VPC. Public subnets take the first /20s, private subnets start at the ninth."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones to spread over; the seed runs in two."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "Multi-AZ RDS, ElastiCache failover and the ALB all need at least two availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, for staging) instead of one per zone."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "Interface VPC endpoints to create, by service suffix (ecr.api, ecr.dkr, logs, secretsmanager, ...)."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager"]
}

variable "flow_log_bucket_arn" {
  description = "ARN of the logs bucket that receives VPC flow logs (under vpc-flow-logs/)."
  type        = string
}

variable "app_port" {
  description = "Port the API container listens on."
  type        = number
  default     = 3000
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
