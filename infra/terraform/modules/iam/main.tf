# IAM: the two roles of the API task, and the application's own secret (the JWT signing key).
#
# - The execution role is what ECS uses to start the task: pull the two images, write to the
#   task's log group, read the three secrets injected as environment variables. Nothing else.
# - The task role is what the running application gets from the AWS SDK's credential chain:
#   objects under the uploads bucket's users/, sessions/ and assets/ prefixes (read, write,
#   delete, tags, listing), the uploads KMS key for those objects, and nothing else. It reads no
#   secret: ECS injects them at start through the execution role.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.61"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  upload_object_arns = [for prefix in var.upload_prefixes : "${var.uploads_bucket_arn}/${prefix}*"]

  ecs_assume_role = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:aws:ecs:${local.region}:${local.account_id}:*" }
      }
    }]
  })
}

# ---------------------------------------------------------------------------------------------
# The JWT signing key
# ---------------------------------------------------------------------------------------------

resource "aws_kms_key" "app" {
  description         = "${var.name} application secrets"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${local.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = var.tags
}

# 64 letters and digits: well over the 32 bytes the API requires of JWT_SECRET.
resource "random_password" "jwt" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "jwt" {
  #checkov:skip=CKV2_AWS_57:Rotating the signing key signs everyone out; it is rotated deliberately by replacing random_password.jwt (docs/deploy.md), not on a schedule
  name                    = "${var.name}/jwt-secret"
  description             = "JWT signing key of the ${var.name} API"
  kms_key_id              = aws_kms_key.app.arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "jwt" {
  secret_id     = aws_secretsmanager_secret.jwt.id
  secret_string = random_password.jwt.result
}

# ---------------------------------------------------------------------------------------------
# Execution role
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "execution" {
  name               = "${var.name}-task-execution"
  assume_role_policy = local.ecs_assume_role
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name = "start-api-task"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "RegistryLogin"
        Effect   = "Allow"
        Action   = "ecr:GetAuthorizationToken"
        Resource = "*"
      },
      {
        Sid      = "PullImages"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
        Resource = var.ecr_repository_arns
      },
      {
        Sid      = "WriteTaskLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${var.app_log_group_arn}:*"
      },
      {
        Sid      = "ReadInjectedSecrets"
        Effect   = "Allow"
        Action   = "secretsmanager:GetSecretValue"
        Resource = concat(var.secret_arns, [aws_secretsmanager_secret.jwt.arn])
      },
      {
        Sid      = "DecryptInjectedSecrets"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = concat(var.secret_kms_key_arns, [aws_kms_key.app.arn])
        Condition = {
          StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" }
        }
      },
    ]
  })
}

# ---------------------------------------------------------------------------------------------
# Task role
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = local.ecs_assume_role
  tags               = var.tags
}

resource "aws_iam_role_policy" "task_uploads" {
  name = "uploads-bucket-prefixes"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ObjectsUnderAppPrefixes"
        Effect = "Allow"
        Action = [
          "s3:GetObject",
          "s3:PutObject",
          "s3:DeleteObject",
          "s3:GetObjectTagging",
          "s3:PutObjectTagging",
          "s3:DeleteObjectTagging",
        ]
        Resource = local.upload_object_arns
      },
      {
        Sid      = "ListAppPrefixes"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = var.uploads_bucket_arn
        Condition = {
          StringLike = { "s3:prefix" = [for prefix in var.upload_prefixes : "${prefix}*"] }
        }
      },
      {
        Sid      = "UploadsKey"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = var.uploads_kms_key_arn
        Condition = {
          StringEquals = { "kms:ViaService" = "s3.${local.region}.amazonaws.com" }
        }
      },
    ]
  })
}

# ECS Exec (a shell in a running task, for operators) needs the SSM message channels. Off by
# default; the service module's enable_execute_command must match.
resource "aws_iam_role_policy" "task_exec" {
  count = var.enable_execute_command ? 1 : 0

  name = "ecs-exec"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "SessionChannels"
        Effect = "Allow"
        Action = [
          "ssmmessages:CreateControlChannel",
          "ssmmessages:CreateDataChannel",
          "ssmmessages:OpenControlChannel",
          "ssmmessages:OpenDataChannel",
        ]
        Resource = "*"
      },
      {
        Sid      = "SessionEncryption"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = var.exec_kms_key_arn
      },
      {
        Sid      = "SessionLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = "${var.app_log_group_arn}:*"
      },
      {
        Sid      = "SessionLogGroupLookup"
        Effect   = "Allow"
        Action   = "logs:DescribeLogGroups"
        Resource = "*"
      },
    ]
  })
}
