output "repository_urls" {
  description = "Repository URL by repository name (what `docker push` and the task definition use)."
  value       = { for name, repo in aws_ecr_repository.this : name => repo.repository_url }
}

output "repository_arns" {
  description = "Repository ARN by repository name."
  value       = { for name, repo in aws_ecr_repository.this : name => repo.arn }
}

output "kms_key_arn" {
  description = "KMS key that encrypts the images (ECR decrypts through its own grant when an image is pulled)."
  value       = aws_kms_key.ecr.arn
}
