variable "bucket_name" {
  description = "Globally unique name of the MLflow artifact bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key for default bucket encryption (SSE-KMS)."
  type        = string
}

variable "artifact_prefix" {
  description = "Key prefix MLflow writes artifacts under: BULLPEN_ARTIFACT_ROOT is s3://<bucket>/<prefix without the slash>."
  type        = string
  default     = "artifacts/"

  validation {
    # Functions only: Terraform's config loader used by the checks cannot serialise operators.
    condition     = can(regex("^[^/].*/$", var.artifact_prefix))
    error_message = "The prefix must be non-empty and end with a slash (IAM and lifecycle match by string prefix)."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted artifact stays recoverable as a noncurrent version."
  type        = number
  default     = 30
}

variable "abort_incomplete_upload_days" {
  description = "Days after which unfinished multipart uploads (an interrupted log_model) are removed."
  type        = number
  default     = 1
}

variable "access_log_bucket_name" {
  description = "Existing bucket that receives S3 server access logs for the artifact bucket."
  type        = string
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete a bucket that still holds artifacts. Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
