variable "name" {
  description = "Name of the host, e.g. bullpen-prod-pg-primary."
  type        = string
}

variable "role" {
  description = "Replication role of the host: primary or replica. Becomes the Role tag and the Ansible group."
  type        = string

  validation {
    condition     = contains(["primary", "replica"], var.role)
    error_message = "The role must be primary or replica."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the host lives in."
  type        = string
}

variable "subnet_id" {
  description = "ID of the private subnet for the host; give the primary and the replica different zones."
  type        = string
}

variable "ami_id" {
  description = "AMI for the host (Debian 12 or later; the Ansible roles install postgresql from Debian)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string
  default     = "t3.medium"
}

variable "root_volume_size_gb" {
  description = "Size of the root volume in GiB."
  type        = number
  default     = 20
}

variable "data_volume_size_gb" {
  description = "Size of the EBS data volume that holds the PostgreSQL data directory, in GiB."
  type        = number
  default     = 50
}

variable "data_volume_type" {
  description = "EBS volume type of the data volume."
  type        = string
  default     = "gp3"
}

variable "data_volume_device_name" {
  description = "Device name the data volume is attached as (appears as an NVMe device on Nitro instances)."
  type        = string
  default     = "/dev/sdf"
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the root and data volumes."
  type        = string
}

variable "postgres_port" {
  description = "TCP port PostgreSQL listens on."
  type        = number
  default     = 5432
}

variable "client_security_group_ids" {
  description = "Security groups allowed to reach PostgreSQL, keyed by a static label (e.g. workers, replica)."
  type        = map(string)
  default     = {}
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
