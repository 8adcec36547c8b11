variable "bucket_name" {
  description = "Globally unique name of the backup bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key for default bucket encryption (SSE-KMS)."
  type        = string
}

variable "backup_prefix" {
  description = "Key prefix the backup flow writes under (BULLPEN_S3_PREFIX plus a slash)."
  type        = string
  default     = "backups/"

  validation {
    condition     = endswith(var.backup_prefix, "/")
    error_message = "The prefix must end with a slash, as S3 lifecycle filters match by string prefix."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a backup stays recoverable after the retention step deleted it (it becomes a noncurrent version)."
  type        = number
  default     = 30
}

variable "transition_to_ia_days" {
  description = "Age in days after which backups (by then only the daily, weekly and monthly keepers) move to STANDARD_IA; S3 requires at least 30."
  type        = number
  default     = 30
}

variable "transition_to_glacier_ir_days" {
  description = "Age in days after which backups (only the monthly keepers) move to GLACIER_IR; still readable in milliseconds for a restore."
  type        = number
  default     = 90
}

variable "abort_incomplete_upload_days" {
  description = "Days after which unfinished multipart uploads (an interrupted backup) are removed."
  type        = number
  default     = 1
}

variable "access_log_bucket_name" {
  description = "Existing bucket that receives S3 server access logs for the backup bucket."
  type        = string
}

variable "object_lock_retention_days" {
  description = "Days every backup object version is locked (S3 Object Lock, governance mode) after it is written: the window in which no deletion, forged or not, can destroy it. Costs storage: versions retention deleted are kept this long."
  type        = number
  default     = 14

  validation {
    condition     = contains(range(1, 366), var.object_lock_retention_days)
    error_message = "The lock must be a whole number of days between 1 and 365."
  }
}

variable "retention_trusted_principal_arns" {
  description = "IAM principals (roles or an account root) that may assume the retention role, the only one allowed to delete backups. Not the workers' role."
  type        = list(string)

  validation {
    condition     = can(var.retention_trusted_principal_arns[0])
    error_message = "Name at least one principal that runs retention (an operator or CI role)."
  }
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete a bucket that still holds backups. Keep false outside throwaway environments (locked versions block it until their lock ends anyway)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
