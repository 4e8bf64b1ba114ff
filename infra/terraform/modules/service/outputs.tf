output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.api.name
}

output "task_definition_arn" {
  description = "ARN (with revision) of the API task definition."
  value       = aws_ecs_task_definition.api.arn
}

output "migrate_task_definition_arn" {
  description = "ARN of the one-off migration task definition."
  value       = aws_ecs_task_definition.migrate.arn
}

output "max_capacity" {
  description = "Maximum task count (for the tasks-at-maximum alarm)."
  value       = aws_appautoscaling_target.api.max_capacity
}
