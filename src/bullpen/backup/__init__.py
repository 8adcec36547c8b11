"""Backup and disaster recovery: encrypted, verified snapshots of bullpen on S3 (docs/backup.md)."""
