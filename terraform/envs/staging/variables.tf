variable "environment" {
  description = "Environment name; prefixes every resource (bullpen-<environment>-...)."
  type        = string
  default     = "staging"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "Two or more availability zones; the primary goes in the first, the replica in the second."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]
}

variable "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "ami_id" {
  description = "AMI for all hosts; null picks the newest official Debian 12 (bookworm) amd64 image."
  type        = string
  default     = null
}

variable "postgres_instance_type" {
  description = "EC2 instance type of the PostgreSQL primary and replica."
  type        = string
  default     = "t3.medium"
}

variable "postgres_data_volume_size_gb" {
  description = "Size of each PostgreSQL host's EBS data volume in GiB."
  type        = number
  default     = 50
}

variable "worker_count" {
  description = "Number of Prefect worker hosts."
  type        = number
  default     = 1
}

variable "worker_instance_type" {
  description = "EC2 instance type of the Prefect workers."
  type        = string
  default     = "t3.large"
}

variable "backup_bucket_name" {
  description = "Globally unique name of the backup bucket (BULLPEN_S3_BUCKET on the workers)."
  type        = string
}

variable "artifact_bucket_name" {
  description = "Globally unique name of the MLflow artifact bucket (BULLPEN_ARTIFACT_ROOT is s3://<it>/artifacts)."
  type        = string
}

variable "access_log_bucket_name" {
  description = "Existing bucket that receives S3 server access logs for the backup and artifact buckets."
  type        = string
}

variable "ssh_ingress_cidr_blocks" {
  description = "Bastion or VPN CIDR blocks allowed to SSH to the hosts for Ansible; empty means SSM only."
  type        = list(string)
  default     = []
}

variable "key_name" {
  description = "EC2 key pair name for SSH, or null to rely on SSM Session Manager."
  type        = string
  default     = null
}

variable "backup_object_lock_days" {
  description = "Days each backup object version is locked against deletion (S3 Object Lock, governance mode)."
  type        = number
  default     = 14
}

variable "backup_retention_principal_arns" {
  description = "Principals allowed to assume the backup retention role (the only deleter). Empty: this account's principals that IAM allows to assume it."
  type        = list(string)
  default     = []
}
