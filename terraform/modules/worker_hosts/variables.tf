variable "name" {
  description = "Name prefix of the worker hosts, e.g. bullpen-prod-worker."
  type        = string
}

variable "instance_count" {
  description = "Number of Prefect worker hosts; each runs one `prefect worker` process for the pool (at least 1)."
  type        = number
  default     = 1
}

variable "vpc_id" {
  description = "ID of the VPC the workers live in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets to spread the workers over (round robin)."
  type        = list(string)
}

variable "ami_id" {
  description = "AMI for the workers (Debian 12 or later with python3-venv)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type; training runs on these hosts, so size for LightGBM."
  type        = string
  default     = "t3.large"
}

variable "root_volume_size_gb" {
  description = "Size of the root volume in GiB (venv, model artifacts in flight, backup scratch)."
  type        = number
  default     = 40
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key for the root volumes and the backup bucket's objects."
  type        = string
}

variable "backup_bucket_arn" {
  description = "ARN of the backup bucket: with the artifact bucket, the only buckets the workers' instance profile may use."
  type        = string
}

variable "backup_prefix" {
  description = "Key prefix inside the backup bucket the workers may read and write under (never delete)."
  type        = string
  default     = "backups/"
}

variable "artifact_bucket_arn" {
  description = "ARN of the MLflow artifact bucket (s3_artifact_bucket module): read and write under artifact_prefix, never delete."
  type        = string
}

variable "artifact_prefix" {
  description = "Key prefix inside the artifact bucket the workers may read and write under (BULLPEN_ARTIFACT_ROOT's path plus a slash)."
  type        = string
  default     = "artifacts/"
}

variable "ssh_ingress_cidr_blocks" {
  description = "CIDR blocks (a bastion or VPN range) allowed to SSH in for Ansible. Empty: no SSH ingress (use SSM)."
  type        = list(string)
  default     = []
}

variable "key_name" {
  description = "Name of an EC2 key pair for SSH, or null to rely on SSM Session Manager."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
