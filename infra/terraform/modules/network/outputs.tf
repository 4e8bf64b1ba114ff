output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnets, one per zone (load balancer, NAT gateways)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets, one per zone (tasks, database, cache)."
  value       = aws_subnet.private[*].id
}

output "alb_security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.alb.id
}

output "tasks_security_group_id" {
  description = "Security group of the API tasks."
  value       = aws_security_group.tasks.id
}

output "database_security_group_id" {
  description = "Security group of the RDS instances."
  value       = aws_security_group.database.id
}

output "cache_security_group_id" {
  description = "Security group of the ElastiCache replication group."
  value       = aws_security_group.cache.id
}

output "nat_public_ips" {
  description = "Public addresses the tasks' outbound traffic comes from."
  value       = aws_eip.nat[*].public_ip
}
