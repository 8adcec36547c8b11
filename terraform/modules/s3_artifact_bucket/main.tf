# The S3 bucket for MLflow's artifacts (models, training plots, backtest and drift reports):
# the one artifact store every worker host reads and writes (BULLPEN_ARTIFACT_ROOT =
# s3://<bucket>/<prefix>, docs/multihost.md).
#
# Hardened like the backup bucket: SSE-KMS with the environment's key, versioning, all public
# access blocked, ACLs disabled, TLS-only bucket policy, server access logs. No Object Lock:
# MLflow deletes artifacts of deleted runs (`mlflow gc`); versioning keeps an overwritten or
# deleted object recoverable for noncurrent_version_expiration_days, and the hourly backup copies
# the whole prefix into the (locked) backup bucket.

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:The hourly backup copies every artifact into the backup bucket; a second-region copy is an account-level DR choice (add aws_s3_bucket_replication_configuration when wanted).
  #checkov:skip=CKV2_AWS_62:Artifacts are written by MLflow runs that Prefect records; no consumer reacts to S3 event notifications.
  #checkov:skip=CKV_AWS_143:No Object Lock: MLflow deletes the artifacts of deleted runs (mlflow gc); versioning keeps deleted objects recoverable and backups copy the prefix into the locked backup bucket.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy

  tags = merge(var.tags, { "bullpen:purpose" = "mlflow-artifacts" })
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

# Current artifacts never expire (a registered model must stay loadable however old); only
# versions that were overwritten or deleted go, and interrupted multipart uploads.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "deleted-artifact-versions"
    status = "Enabled"

    filter {}

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

  # Object versions go only by lifecycle: no identity (a worker's stolen credentials included)
  # can destroy the history of an artifact without first changing this policy.
  statement {
    sid       = "NoVersionDeletes"
    effect    = "Deny"
    actions   = ["s3:DeleteObjectVersion"]
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
