output "instance_ids" {
  description = "IDs of the worker instances."
  value       = [for instance in aws_instance.this : instance.id]
}

output "private_ips" {
  description = "Private IPv4 addresses of the workers, in instance order (Ansible inventory)."
  value       = [for instance in aws_instance.this : instance.private_ip]
}

output "security_group_id" {
  description = "ID of the workers' security group (a client of the PostgreSQL hosts)."
  value       = aws_security_group.this.id
}

output "iam_role_arn" {
  description = "ARN of the workers' IAM role."
  value       = aws_iam_role.this.arn
}
