output "instance_id" {
  description = "ID of the EC2 instance."
  value       = aws_instance.this.id
}

output "private_ip" {
  description = "Private IPv4 address of the host (Ansible inventory address, replica's primary_conninfo host)."
  value       = aws_instance.this.private_ip
}

output "security_group_id" {
  description = "ID of the host's security group (give it to the other host's client_security_group_ids)."
  value       = aws_security_group.this.id
}

output "data_volume_id" {
  description = "ID of the EBS data volume."
  value       = aws_ebs_volume.data.id
}

output "data_volume_device_name" {
  description = "Device name the data volume is attached as."
  value       = aws_volume_attachment.data.device_name
}

output "data_volume_device_path" {
  description = "Stable device path of the data volume on a Nitro instance (NVMe by-id link), for the Ansible role postgres_data_volume."
  value       = "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${replace(aws_volume_attachment.data.volume_id, "-", "")}"
}

output "role" {
  description = "Replication role of the host (primary or replica)."
  value       = var.role
}
