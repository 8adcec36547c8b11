terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # Remote state: fill in your state bucket (and region) before `terraform init`.
  # `use_lockfile` keeps the lock next to the state in S3 (no DynamoDB table needed).
  backend "s3" {
    bucket       = "CHANGE-ME-terraform-state"
    key          = "bullpen/prod/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "bullpen"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
