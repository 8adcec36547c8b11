# Prefect worker hosts: N plain instances (not an autoscaling group, so Terraform knows their
# addresses for the Ansible inventory), with an instance profile that can reach the backup
# bucket and the MLflow artifact prefix and nothing else. The workers run the flows, including
# backup (pg_dump over the network) and training (models written to the artifact store).

resource "aws_security_group" "this" {
  name        = "${var.name}-sg"
  description = "Prefect workers ${var.name}: no inbound but SSH from the admin range; out to Postgres and HTTPS."
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-sg" })
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  for_each = toset(var.ssh_ingress_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "SSH for Ansible from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS out: Prefect API, PyPI, S3, SSM, data APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "http" {
  security_group_id = aws_security_group.this.id
  description       = "HTTP out: Debian package mirrors"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "postgres" {
  security_group_id = aws_security_group.this.id
  description       = "PostgreSQL out inside the VPC"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = data.aws_vpc.this.cidr_block
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# Backups only: list the bucket under the prefix, put/get objects under it, and use the KMS key
# for SSE-KMS. No delete: a worker that runs arbitrary flow code must not be able to remove
# backups (retention deletes with its own role, see the s3_backup_bucket module). No other
# bucket, no bucket configuration changes.
data "aws_iam_policy_document" "backups" {
  statement {
    sid       = "ListBackups"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [var.backup_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.backup_prefix, "${var.backup_prefix}*"]
    }
  }

  statement {
    sid = "ReadWriteBackups"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${var.backup_bucket_arn}/${var.backup_prefix}*"]
  }

  statement {
    sid       = "UseBackupKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

# MLflow artifacts: list, read and write under the artifact prefix (every worker loads what any
# worker trained). No delete: MLflow's training, scoring and reporting never delete; `mlflow gc`
# and restores run with an operator's identity.
data "aws_iam_policy_document" "artifacts" {
  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [var.artifact_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.artifact_prefix, "${var.artifact_prefix}*"]
    }
  }

  statement {
    sid = "ReadWriteArtifacts"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${var.artifact_bucket_arn}/${var.artifact_prefix}*"]
  }
}

resource "aws_iam_role_policy" "artifacts" {
  name   = "bullpen-mlflow-artifacts"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.artifacts.json
}

resource "aws_iam_role_policy" "backups" {
  name   = "bullpen-backups"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.backups.json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.name}-profile"
  role = aws_iam_role.this.name

  tags = var.tags
}

resource "aws_instance" "this" {
  count = var.instance_count

  ami                         = var.ami_id
  instance_type               = var.instance_type
  subnet_id                   = element(var.subnet_ids, count.index) # wraps around
  vpc_security_group_ids      = [aws_security_group.this.id]
  iam_instance_profile        = aws_iam_instance_profile.this.name
  key_name                    = var.key_name
  associate_public_ip_address = false
  ebs_optimized               = true
  monitoring                  = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.root_volume_size_gb
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = "${var.name}-${count.index}", Role = "prefect_worker" })
}
