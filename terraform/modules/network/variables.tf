variable "name" {
  description = "Name prefix for every resource, e.g. bullpen-staging."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones to spread subnets over; one public and one private subnet per zone."
  type        = list(string)

  validation {
    condition     = can(var.availability_zones[1])
    error_message = "Give at least two availability zones so the primary and the replica can live apart."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the VPC flow log group."
  type        = string
}

variable "flow_log_retention_days" {
  description = "Days to keep VPC flow logs in CloudWatch."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
