# The S3 bucket for bullpen's database backups.
#
# Which backups to keep (24 hourly, 7 daily, 4 weekly, 12 monthly, never fewer than the 3 newest
# verified ones) is decided by bullpen's retention step (src/bullpen/backup/retention.py): S3
# lifecycle rules cannot express "one per hour/day/week/month". The bucket covers what the code
# cannot:
# - Object Lock (governance mode): every object version is locked for object_lock_retention_days.
#   A delete (by the retention role, or by anyone who stole credentials) only adds a delete
#   marker; the locked version stays recoverable until the lock and the lifecycle expire it.
# - Only the retention role may delete (the bucket policy denies everyone else), and nobody may
#   delete object versions or bypass governance retention without first changing that policy.
#   The workers that write backups cannot delete them at all.
# - Interrupted multipart uploads are aborted, and the older keepers move to cheaper storage
#   classes. No rule expires current backups, so a stalled schedule can never empty the bucket.

locals {
  # Mirrors RetentionPolicy's defaults; tests/infra/test_terraform.py checks they agree.
  retention = {
    hourly       = 24
    daily        = 7
    weekly       = 4
    monthly      = 12
    min_verified = 3
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:The backups are already the off-host copy of the database; a second-region copy is an account-level DR choice (add aws_s3_bucket_replication_configuration when wanted).
  #checkov:skip=CKV2_AWS_62:Backup health is checked by the backup-verify/weekly flow and Prefect alerts, not by S3 event notifications.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy

  tags = merge(var.tags, {
    "bullpen:retention" = "${local.retention.hourly}h/${local.retention.daily}d/${local.retention.weekly}w/${local.retention.monthly}m"
  })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

# Enables Object Lock on new and existing (versioned) buckets alike; it cannot be turned off.
# Governance, not compliance: an administrator can still remove a version early, but only
# with s3:BypassGovernanceRetention, which the bucket policy below denies until it is changed.
resource "aws_s3_bucket_object_lock_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    default_retention {
      mode = "GOVERNANCE"
      days = var.object_lock_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]

  lifecycle {
    precondition {
      # Functions only (no >=): the same as noncurrent_version_expiration_days >= the lock.
      condition     = contains([var.noncurrent_version_expiration_days], max(var.noncurrent_version_expiration_days, var.object_lock_retention_days))
      error_message = "noncurrent_version_expiration_days must be at least object_lock_retention_days: a version cannot expire while it is locked."
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "this" {
  bucket = aws_s3_bucket.this.id

  target_bucket = var.access_log_bucket_name
  target_prefix = "s3/${var.bucket_name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "backups-storage-class-and-deleted-versions"
    status = "Enabled"

    filter {
      prefix = var.backup_prefix
    }

    transition {
      days          = var.transition_to_ia_days
      storage_class = "STANDARD_IA"
    }

    transition {
      days          = var.transition_to_glacier_ir_days
      storage_class = "GLACIER_IR"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_upload_days
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_upload_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # Retention is the only deleter: a worker (or its stolen credentials) cannot delete a backup
  # even if someone later grants it s3:DeleteObject.
  statement {
    sid       = "OnlyTheRetentionRoleDeletes"
    effect    = "Deny"
    actions   = ["s3:DeleteObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.retention.arn]
    }
  }

  # Versions go only by lifecycle after their lock ends; removing one earlier, or shortening a
  # lock, takes a change of this policy first (recorded in CloudTrail).
  statement {
    sid = "NoVersionDeletesOrLockBypass"
    actions = [
      "s3:DeleteObjectVersion",
      "s3:BypassGovernanceRetention",
      "s3:PutObjectRetention",
      "s3:PutObjectLegalHold",
    ]
    effect    = "Deny"
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# The retention role: lists the backups, reads their manifests (to verify them with the backup
# key, which the retention run holds) and deletes what retention drops. It cannot write, so it
# cannot forge a backup, and it cannot delete versions, so its deletes are only delete markers.
data "aws_iam_policy_document" "retention_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = var.retention_trusted_principal_arns
    }
  }
}

data "aws_iam_policy_document" "retention" {
  statement {
    sid       = "ListBackups"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.backup_prefix, "${var.backup_prefix}*"]
    }
  }

  statement {
    sid       = "VerifyAndDeleteBackups"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.this.arn}/${var.backup_prefix}*"]
  }

  statement {
    sid       = "ReadManifestsEncryptedWithTheKey"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "retention" {
  name                 = "${var.bucket_name}-retention"
  description          = "bullpen backup retention: the only principal that may delete backups from ${var.bucket_name}"
  assume_role_policy   = data.aws_iam_policy_document.retention_assume.json
  max_session_duration = 3600

  tags = var.tags
}

resource "aws_iam_role_policy" "retention" {
  name   = "bullpen-backup-retention"
  role   = aws_iam_role.retention.id
  policy = data.aws_iam_policy_document.retention.json
}
