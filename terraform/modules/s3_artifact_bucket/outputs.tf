output "bucket_name" {
  description = "Name of the artifact bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the artifact bucket."
  value       = aws_s3_bucket.this.arn
}

output "artifact_prefix" {
  description = "Key prefix of the artifacts, with its trailing slash."
  value       = var.artifact_prefix
}

output "artifact_root" {
  description = "BULLPEN_ARTIFACT_ROOT for every host: s3://<bucket>/<prefix>."
  value       = "s3://${aws_s3_bucket.this.id}/${trimsuffix(var.artifact_prefix, "/")}"
}
