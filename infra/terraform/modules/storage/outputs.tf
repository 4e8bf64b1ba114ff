output "uploads_bucket_name" {
  description = "Name of the uploads bucket (the task's S3_BUCKET)."
  value       = aws_s3_bucket.uploads.id
}

output "uploads_bucket_arn" {
  description = "ARN of the uploads bucket."
  value       = aws_s3_bucket.uploads.arn
}

output "uploads_kms_key_arn" {
  description = "KMS key of the uploads bucket; signers of pre-signed URLs need GenerateDataKey and Decrypt on it."
  value       = aws_kms_key.uploads.arn
}

output "logs_bucket_name" {
  description = "Name of the logs bucket."
  value       = aws_s3_bucket.logs.id
}

output "logs_bucket_arn" {
  description = "ARN of the logs bucket."
  value       = aws_s3_bucket.logs.arn
}
