output "instance_identifier" {
  description = "Identifier of the primary (the DBInstanceIdentifier dimension)."
  value       = aws_db_instance.primary.identifier
}

output "address" {
  description = "Host name of the primary."
  value       = aws_db_instance.primary.address
}

output "port" {
  description = "Port of the primary."
  value       = aws_db_instance.primary.port
}

output "replica_addresses" {
  description = "Host names of the read replicas."
  value       = aws_db_instance.replica[*].address
}

output "secret_arn" {
  description = "Secrets Manager secret (JSON: username, password, host, port, dbname, pooled_url, direct_url; read_url, the first read replica, when read_replica_count > 0)."
  value       = aws_secretsmanager_secret.database.arn
}

output "kms_key_arn" {
  description = "KMS key of the storage, Performance Insights and the secret."
  value       = aws_kms_key.database.arn
}

output "parameter_group_name" {
  description = "Name of the parameter group."
  value       = aws_db_parameter_group.this.name
}
