output "execution_role_arn" {
  description = "ARN of the task execution role."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "ARN of the task role."
  value       = aws_iam_role.task.arn
}

output "jwt_secret_arn" {
  description = "Secrets Manager secret holding JWT_SECRET (a plain string)."
  value       = aws_secretsmanager_secret.jwt.arn
}
