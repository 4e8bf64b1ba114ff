# Database: RDS PostgreSQL as in the seed (db.r6g.large, Multi-AZ, gp3, 7-day backups with
# point-in-time recovery, max_connections = 200), encrypted with its own KMS key, with deletion
# protection, Performance Insights, enhanced monitoring, an optional read replica, and the
# credentials the tasks use, in Secrets Manager.
#
# gp3 and 3000 IOPS: for PostgreSQL on RDS, a gp3 volume below 400 GiB comes with 3000 IOPS and
# 125 MiB/s as its baseline, and RDS refuses an explicit IOPS value there. From 400 GiB up the
# baseline is 12000 IOPS and IOPS can be provisioned. So the 3000 IOPS of the seed are set by
# keeping allocated_storage under 400 GiB, and `iops` is only sent to the API at 400 GiB or more;
# the preconditions below keep the two variables consistent.

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

locals {
  gp3_provisioned = var.allocated_storage >= 400
  family          = "postgres${split(".", var.engine_version)[0]}"
}

resource "aws_kms_key" "database" {
  description         = "${var.name} RDS storage, Performance Insights and credentials"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = var.tags
}

# RDS writes exported logs to these names and would create them without retention or key;
# creating them first (the instances depend on them) gives them both.
resource "aws_cloudwatch_log_group" "exports" {
  for_each = toset(var.cloudwatch_logs_exports)

  name              = "/aws/rds/instance/${var.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "replica_exports" {
  for_each = { for pair in setproduct(range(var.read_replica_count), var.cloudwatch_logs_exports) : "${pair[0]}-${pair[1]}" => pair }

  name              = "/aws/rds/instance/${var.name}-replica-${each.value[0] + 1}/${each.value[1]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}-${local.family}"
  family = local.family

  # The seed's ceiling. PgBouncer's per-task limits are derived from it (deploy/pgbouncer/README.md).
  parameter {
    name         = "max_connections"
    value        = var.max_connections
    apply_method = "pending-reboot"
  }

  # TLS on every connection: PgBouncer and migrations connect with sslmode=require or stronger.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Statements slower than this are logged with their duration.
  parameter {
    name  = "log_min_duration_statement"
    value = var.log_min_duration_statement_ms
  }

  # Schema changes are logged, so a migration leaves a trace beside the application's own log.
  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_lock_waits"
    value = "1"
  }

  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }

  lifecycle {
    create_before_destroy = true
  }

  tags = var.tags
}

# Letters and digits only: the password goes into URLs without escaping.
resource "random_password" "master" {
  length  = 40
  special = false
}

# The API's own role: `dragoman migrate` (as the master user) creates it with this password and
# grants it row access only; the API and its PgBouncer sidecar log in as it.
resource "random_password" "app" {
  length  = 40
  special = false
}

resource "aws_iam_role" "enhanced_monitoring" {
  name = "${var.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "enhanced_monitoring" {
  role       = aws_iam_role.enhanced_monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "primary" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  db_name  = var.database_name
  username = var.master_username
  password = random_password.master.result
  port     = 5432

  storage_type          = "gp3"
  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  iops                  = local.gp3_provisioned ? var.iops : null
  storage_throughput    = local.gp3_provisioned ? var.storage_throughput : null
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.database.arn

  multi_az               = var.multi_az
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = var.security_group_ids
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name
  ca_cert_identifier     = var.ca_cert_identifier

  backup_retention_period   = var.backup_retention_days
  backup_window             = var.backup_window
  maintenance_window        = var.maintenance_window
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  auto_minor_version_upgrade          = true
  allow_major_version_upgrade         = false
  apply_immediately                   = false
  iam_database_authentication_enabled = true

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.database.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.enhanced_monitoring.arn
  enabled_cloudwatch_logs_exports       = var.cloudwatch_logs_exports

  depends_on = [aws_cloudwatch_log_group.exports]

  lifecycle {
    precondition {
      condition     = local.gp3_provisioned || var.iops == 3000
      error_message = "Below 400 GiB, RDS gp3 for PostgreSQL gives exactly 3000 IOPS (its baseline) and takes no IOPS setting: keep iops = 3000 or allocate 400 GiB or more."
    }
    precondition {
      condition     = !local.gp3_provisioned || var.iops >= 12000
      error_message = "From 400 GiB up, RDS gp3 for PostgreSQL has a 12000 IOPS baseline: set iops to 12000 or more."
    }
  }

  tags = var.tags
}

# The API sends its read-heavy queries to the first replica (DATABASE_READ_URL, the secret's
# read_url), directly rather than through the PgBouncer sidecar: docs/deploy.md says why.
resource "aws_db_instance" "replica" {
  #checkov:skip=CKV_AWS_157:A read replica is rebuilt from the Multi-AZ primary in minutes; a standby for the replica doubles its cost for no durability
  #checkov:skip=CKV_AWS_133:Backups are taken on the primary; the replica holds no data of its own
  count = var.read_replica_count

  identifier          = "${var.name}-replica-${count.index + 1}"
  replicate_source_db = aws_db_instance.primary.identifier
  instance_class      = coalesce(var.replica_instance_class, var.instance_class)

  storage_type       = "gp3"
  iops               = local.gp3_provisioned ? var.iops : null
  storage_throughput = local.gp3_provisioned ? var.storage_throughput : null
  storage_encrypted  = true
  kms_key_id         = aws_kms_key.database.arn

  multi_az               = false
  vpc_security_group_ids = var.security_group_ids
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name
  ca_cert_identifier     = var.ca_cert_identifier

  backup_retention_period = 0
  copy_tags_to_snapshot   = true
  deletion_protection     = var.deletion_protection
  skip_final_snapshot     = true

  auto_minor_version_upgrade          = true
  apply_immediately                   = false
  iam_database_authentication_enabled = true

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.database.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.enhanced_monitoring.arn
  enabled_cloudwatch_logs_exports       = var.cloudwatch_logs_exports

  depends_on = [aws_cloudwatch_log_group.replica_exports]

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# Credentials for the tasks
# ---------------------------------------------------------------------------------------------

locals {
  # The API reaches PostgreSQL through the PgBouncer sidecar on the task's loopback interface;
  # migrations (and anything needing LISTEN or session state) connect to RDS directly.
  # The API, as its least-privilege role, to the sidecar on loopback (TLS from there to RDS).
  pooled_url = "postgres://${var.app_username}:${random_password.app.result}@127.0.0.1:${var.pgbouncer_port}/${var.database_name}?sslmode=disable"
  # Migrations, as the master user, straight to RDS: the certificate is verified against the
  # RDS authorities in the image and the host name checked (verify-full), not merely encrypted.
  direct_url = "postgres://${var.master_username}:${random_password.master.result}@${aws_db_instance.primary.address}:${aws_db_instance.primary.port}/${var.database_name}?sslmode=verify-full&sslrootcert=${var.ca_bundle_path}"
  # The first replica, straight to RDS as the API's role with the certificate verified like
  # direct_url (the API's replica pool is small and needs no pooler); only in the secret when a
  # replica exists, so that the API gets DATABASE_READ_URL exactly then. try(): with no replica
  # there is no replica[0] to name.
  read_url    = try("postgres://${var.app_username}:${random_password.app.result}@${aws_db_instance.replica[0].address}:${aws_db_instance.replica[0].port}/${var.database_name}?sslmode=verify-full&sslrootcert=${var.ca_bundle_path}", "")
  read_secret = { for key, url in { read_url = local.read_url } : key => url if var.read_replica_count > 0 }
}

resource "aws_secretsmanager_secret" "database" {
  #checkov:skip=CKV2_AWS_57:The value is generated by Terraform together with the instance's password; rotation is a Terraform change (docs/deploy.md), since a rotation Lambda would change the password without updating the URLs built from it
  name                    = "${var.name}/database"
  description             = "PostgreSQL credentials and URLs for the ${var.name} API tasks"
  kms_key_id              = aws_kms_key.database.arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "database" {
  secret_id = aws_secretsmanager_secret.database.id
  secret_string = jsonencode(merge({
    username = var.master_username
    password = random_password.master.result
    host     = aws_db_instance.primary.address
    # A string: ECS injects JSON keys of a secret as environment variables, which are strings.
    port       = tostring(aws_db_instance.primary.port)
    dbname     = var.database_name
    pooled_url = local.pooled_url
    direct_url = local.direct_url
    # The API's role, for the migrate task (which creates it) and the PgBouncer sidecar.
    app_username = var.app_username
    app_password = random_password.app.result
  }, local.read_secret))
}
