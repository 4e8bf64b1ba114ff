output "alb_dns_name" {
  description = "DNS name of the load balancer: point the API's host name at it."
  value       = module.alb.dns_name
}

output "repository_urls" {
  description = "ECR repositories to push the images to."
  value       = module.registry.repository_urls
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.service.cluster_name
}

output "service_name" {
  description = "ECS service."
  value       = module.service.service_name
}

output "migrate_task_definition_arn" {
  description = "Task definition for running migrations by hand."
  value       = module.service.migrate_task_definition_arn
}

output "private_subnet_ids" {
  description = "Subnets for one-off tasks (aws ecs run-task)."
  value       = module.network.private_subnet_ids
}

output "tasks_security_group_id" {
  description = "Security group for one-off tasks."
  value       = module.network.tasks_security_group_id
}

output "uploads_bucket_name" {
  description = "Uploads bucket."
  value       = module.storage.uploads_bucket_name
}

output "database_address" {
  description = "Host name of the RDS primary."
  value       = module.database.address
}

output "database_secret_arn" {
  description = "Secret with the database credentials and URLs."
  value       = module.database.secret_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.monitoring.alarm_topic_arn
}
