variable "name" {
  description = "Replication group id and prefix of related names (at most 40 characters)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets in at least two zones."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the nodes (the network module's cache group)."
  type        = list(string)
}

variable "engine_version" {
  description = "Redis OSS engine version."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Node type (the seed: cache.r6g.large)."
  type        = string
  default     = "cache.r6g.large"
}

variable "cluster_mode" {
  description = "Redis Cluster: the keys spread over num_node_groups shards, each a primary with replicas_per_node_group replicas; the API is told REDIS_CLUSTER=true and its URL is the configuration endpoint. Off: one primary with replicas (num_cache_clusters nodes)."
  type        = bool
  default     = false
}

variable "num_node_groups" {
  description = "Shards when cluster_mode is on."
  type        = number
  default     = 3

  validation {
    condition     = var.num_node_groups >= 1 && var.num_node_groups <= 500
    error_message = "A cluster has 1 to 500 shards."
  }
}

variable "replicas_per_node_group" {
  description = "Replicas of each shard's primary when cluster_mode is on; at least 1 for automatic failover."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas_per_node_group >= 1 && var.replicas_per_node_group <= 5
    error_message = "Each shard has 1 to 5 replicas (automatic failover needs one)."
  }
}

variable "num_cache_clusters" {
  description = "Nodes in the group when cluster_mode is off: a primary and its replicas. More than one turns on automatic failover and Multi-AZ."
  type        = number
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6
    error_message = "A replication group has 1 to 6 nodes."
  }
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots."
  type        = number
  default     = 7
}

variable "snapshot_window" {
  description = "Daily snapshot window (UTC)."
  type        = string
  default     = "02:00-03:00"
}

variable "maintenance_window" {
  description = "Weekly maintenance window (UTC)."
  type        = string
  default     = "sun:05:00-sun:06:00"
}

variable "slow_log_group_name" {
  description = "CloudWatch log group for the slow log (the monitoring module creates it)."
  type        = string
}

variable "engine_log_group_name" {
  description = "CloudWatch log group for the engine log (the monitoring module creates it)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
