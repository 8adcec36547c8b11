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
  description = "Retention counts bullpen applies (hourly, daily, weekly, monthly, and the minimum of verified backups always kept)."
  value       = local.retention
}

output "retention_role_arn" {
  description = "ARN of the retention role, the only principal allowed to delete backups (run the backup-retention flow with it)."
  value       = aws_iam_role.retention.arn
}

output "object_lock_retention_days" {
  description = "Days each backup object version is locked (Object Lock, governance mode)."
  value       = var.object_lock_retention_days
}
