# bullpen environment: VPC, a self-managed PostgreSQL primary and streaming replica on EC2,
# Prefect worker hosts, the backup bucket and the MLflow artifact bucket. Ansible configures the hosts afterwards, from the
# inventory in output `ansible_inventory`.

locals {
  name   = "bullpen-${var.environment}"
  ami_id = coalesce(var.ami_id, data.aws_ami.debian.id)
}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_ami" "debian" {
  most_recent = true
  owners      = ["136693071363"] # Debian's official AWS account

  filter {
    name   = "name"
    values = ["debian-12-amd64-*"]
  }
}

# One customer managed key per environment: EBS volumes, backup objects and flow logs.
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy: Resource "*" means this key only; the account-root statement is AWS's default key policy, without it the key becomes unmanageable.
  #checkov:skip=CKV_AWS_111:A key policy: Resource "*" means this key only; write access is limited to the account and to CloudWatch Logs for /bullpen/* log groups.
  #checkov:skip=CKV_AWS_356:A key policy: Resource "*" is the only valid resource and means this key.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:/bullpen/*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${local.name}: EBS volumes, backups and flow logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.this.key_id
}

module "network" {
  source = "../../modules/network"

  name               = local.name
  cidr_block         = var.vpc_cidr_block
  availability_zones = var.availability_zones
  kms_key_arn        = aws_kms_key.this.arn
}

module "backup_bucket" {
  source = "../../modules/s3_backup_bucket"

  bucket_name                = var.backup_bucket_name
  kms_key_arn                = aws_kms_key.this.arn
  access_log_bucket_name     = var.access_log_bucket_name
  object_lock_retention_days = var.backup_object_lock_days
  # Default: principals of this account that an administrator allows to assume the role (the
  # workers' role may not: it has no sts:AssumeRole).
  retention_trusted_principal_arns = coalescelist(
    var.backup_retention_principal_arns,
    ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"],
  )
}

# MLflow's artifact store: every worker reads and writes models and reports here
# (BULLPEN_ARTIFACT_ROOT = output artifact_root).
module "artifact_bucket" {
  source = "../../modules/s3_artifact_bucket"

  bucket_name            = var.artifact_bucket_name
  kms_key_arn            = aws_kms_key.this.arn
  access_log_bucket_name = var.access_log_bucket_name
}

module "workers" {
  source = "../../modules/worker_hosts"

  name                    = "${local.name}-worker"
  instance_count          = var.worker_count
  instance_type           = var.worker_instance_type
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  ami_id                  = local.ami_id
  kms_key_arn             = aws_kms_key.this.arn
  backup_bucket_arn       = module.backup_bucket.bucket_arn
  backup_prefix           = module.backup_bucket.backup_prefix
  artifact_bucket_arn     = module.artifact_bucket.bucket_arn
  artifact_prefix         = module.artifact_bucket.artifact_prefix
  ssh_ingress_cidr_blocks = var.ssh_ingress_cidr_blocks
  key_name                = var.key_name
}

# The same module twice: primary in the first zone, replica in the second.
module "postgres_primary" {
  source = "../../modules/postgres_host"

  name                = "${local.name}-pg-primary"
  role                = "primary"
  vpc_id              = module.network.vpc_id
  subnet_id           = module.network.private_subnet_ids[0]
  ami_id              = local.ami_id
  instance_type       = var.postgres_instance_type
  data_volume_size_gb = var.postgres_data_volume_size_gb
  kms_key_arn         = aws_kms_key.this.arn
  client_security_group_ids = {
    workers = module.workers.security_group_id
    replica = module.postgres_replica.security_group_id
  }
  ssh_ingress_cidr_blocks = var.ssh_ingress_cidr_blocks
  key_name                = var.key_name
}

module "postgres_replica" {
  source = "../../modules/postgres_host"

  name                = "${local.name}-pg-replica"
  role                = "replica"
  vpc_id              = module.network.vpc_id
  subnet_id           = module.network.private_subnet_ids[1]
  ami_id              = local.ami_id
  instance_type       = var.postgres_instance_type
  data_volume_size_gb = var.postgres_data_volume_size_gb
  kms_key_arn         = aws_kms_key.this.arn
  client_security_group_ids = {
    workers = module.workers.security_group_id
  }
  ssh_ingress_cidr_blocks = var.ssh_ingress_cidr_blocks
  key_name                = var.key_name
}
