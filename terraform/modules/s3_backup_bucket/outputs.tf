output "bucket_name" {
  description = "Name of the backup bucket (BULLPEN_S3_BUCKET)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the backup bucket."
  value       = aws_s3_bucket.this.arn
}

output "backup_prefix" {
  description = "Key prefix of the backups (BULLPEN_S3_PREFIX is this without the trailing slash)."
  value       = var.backup_prefix
}

output "retention" {
  description = "Retention counts the backup flow applies (hourly, daily, weekly, monthly)."
  value       = local.retention
}
