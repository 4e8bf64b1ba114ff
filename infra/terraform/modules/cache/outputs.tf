output "replication_group_id" {
  description = "Id of the replication group."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint_address" {
  description = "Host name of the primary endpoint (follows failover)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint_address" {
  description = "Host name of the reader endpoint."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "num_cache_clusters" {
  description = "Number of nodes (with cluster mode: shards times one primary and its replicas)."
  value       = var.cluster_mode ? var.num_node_groups * (1 + var.replicas_per_node_group) : var.num_cache_clusters
}

output "secret_arn" {
  description = "Secrets Manager secret (JSON: auth_token, host, port, url)."
  value       = aws_secretsmanager_secret.redis.arn
}

output "kms_key_arn" {
  description = "KMS key of the at-rest encryption and the secret."
  value       = aws_kms_key.cache.arn
}

output "parameter_group_name" {
  description = "Name of the parameter group."
  value       = aws_elasticache_parameter_group.this.name
}

output "cluster_mode" {
  description = "Whether the group is a Redis Cluster: the API's REDIS_CLUSTER."
  value       = var.cluster_mode
}

output "configuration_endpoint_address" {
  description = "Host name of the configuration endpoint (cluster mode only; null otherwise)."
  value       = aws_elasticache_replication_group.this.configuration_endpoint_address
}
