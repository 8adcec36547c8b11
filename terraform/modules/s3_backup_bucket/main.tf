# The S3 bucket for bullpen's database backups.
#
# Which backups to keep (24 hourly, 7 daily, 4 weekly, 12 monthly, never the newest good one)
# is decided by the backup flow itself (src/bullpen/backup/retention.py): S3 lifecycle rules
# cannot express "one per hour/day/week/month". The bucket covers what the flow cannot:
# versions the retention step deleted stay recoverable for a while, interrupted multipart
# uploads are aborted, and the older keepers move to cheaper storage classes. No rule expires
# current backups, so a stalled backup schedule can never empty the bucket.

locals {
  # Mirrors RetentionPolicy's defaults; tests/infra/test_terraform.py checks they agree.
  retention = {
    hourly  = 24
    daily   = 7
    weekly  = 4
    monthly = 12
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

data "aws_iam_policy_document" "tls_only" {
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
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.tls_only.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
