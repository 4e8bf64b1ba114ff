terraform {
  # 1.10 brings S3-native state locking (use_lockfile), so no DynamoDB table is needed.
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.61 added aws_chatbot_slack_channel_configuration.
      version = "~> 5.61"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # Remote state in S3, locked with a lock file next to the state object. The bucket is created
  # once by hand (versioned, encrypted, public access blocked: docs/deploy.md) and named at init:
  #   terraform init -backend-config=backend.hcl
  # with backend.hcl copied from backend.hcl.example.
  backend "s3" {
    key          = "dragoman/production/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "dragoman"
      Environment = local.environment
      ManagedBy   = "terraform"
    }
  }
}
