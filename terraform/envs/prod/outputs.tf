output "backup_bucket_name" {
  description = "Backup bucket (BULLPEN_S3_BUCKET)."
  value       = module.backup_bucket.bucket_name
}

output "backup_retention_role_arn" {
  description = "Role that runs backup retention (flow backup-retention); the workers cannot delete backups."
  value       = module.backup_bucket.retention_role_arn
}

output "artifact_root" {
  description = "MLflow artifact store for every host (BULLPEN_ARTIFACT_ROOT)."
  value       = module.artifact_bucket.artifact_root
}

output "postgres_primary_private_ip" {
  description = "Private address of the PostgreSQL primary (BULLPEN_DB host for the workers)."
  value       = module.postgres_primary.private_ip
}

output "postgres_replica_private_ip" {
  description = "Private address of the PostgreSQL streaming replica (read-only queries)."
  value       = module.postgres_replica.private_ip
}

output "worker_private_ips" {
  description = "Private addresses of the Prefect worker hosts."
  value       = module.workers.private_ips
}

# `terraform output -raw ansible_inventory > ../../../ansible/inventories/<env>/hosts.yml`
output "ansible_inventory" {
  description = "Ansible inventory (YAML) of this environment's hosts, grouped by role."
  value = yamlencode({
    all = {
      vars = {
        bullpen_environment              = var.environment
        bullpen_aws_region               = var.region
        bullpen_backup_bucket            = module.backup_bucket.bucket_name
        bullpen_backup_prefix            = trimsuffix(module.backup_bucket.backup_prefix, "/")
        bullpen_artifact_root            = module.artifact_bucket.artifact_root
        bullpen_postgres_primary_address = module.postgres_primary.private_ip
      }
      children = {
        postgres_primary = {
          hosts = { "${local.name}-pg-primary" = {
            ansible_host                = module.postgres_primary.private_ip
            postgres_data_volume_device = module.postgres_primary.data_volume_device_path
          } }
        }
        postgres_replica = {
          hosts = { "${local.name}-pg-replica" = {
            ansible_host                = module.postgres_replica.private_ip
            postgres_data_volume_device = module.postgres_replica.data_volume_device_path
          } }
        }
        prefect_workers = {
          hosts = { for i, ip in module.workers.private_ips : "${local.name}-worker-${i}" => { ansible_host = ip } }
        }
      }
    }
  })
}
