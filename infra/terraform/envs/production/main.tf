# Production: the seed's estate, every setting as DESIGN.md gives it. The seed's values are
# written out here (rather than left to module defaults) so that a review of this file shows
# them, and infra/tests checks them.

locals {
  environment = "production"
  name        = "dragoman-${local.environment}"

  # The seed's names.
  service_name       = "api-service"
  app_log_group_name = "/ecs/api-service"

  min_tasks = 2
  max_tasks = 6
}

module "storage" {
  source = "../../modules/storage"

  name                    = local.name
  cors_allowed_origins    = var.cors_allowed_origins
  logs_glacier_after_days = 30
}

module "network" {
  source = "../../modules/network"

  name                = local.name
  cidr_block          = var.vpc_cidr_block
  availability_zones  = var.availability_zones
  single_nat_gateway  = false
  interface_endpoints = ["ecr.api", "ecr.dkr", "logs", "secretsmanager"]
  flow_log_bucket_arn = module.storage.logs_bucket_arn
  app_port            = 3000
}

module "registry" {
  source = "../../modules/registry"

  name         = local.name
  repositories = ["dragoman", "dragoman-pgbouncer"]
}

module "database" {
  source = "../../modules/database"

  name                  = local.name
  subnet_ids            = module.network.private_subnet_ids
  security_group_ids    = [module.network.database_security_group_id]
  instance_class        = "db.r6g.large"
  multi_az              = true
  allocated_storage     = 100
  max_allocated_storage = 390
  iops                  = 3000
  max_connections       = 200
  backup_retention_days = 7
  deletion_protection   = true
  read_replica_count    = var.db_read_replica_count
  logs_kms_key_arn      = module.monitoring.kms_key_arn
  log_retention_days    = var.log_retention_days
}

module "cache" {
  source = "../../modules/cache"

  name                  = local.name
  subnet_ids            = module.network.private_subnet_ids
  security_group_ids    = [module.network.cache_security_group_id]
  node_type             = "cache.r6g.large"
  num_cache_clusters    = 2
  cluster_mode          = var.cache_cluster_mode
  slow_log_group_name   = module.monitoring.cache_slow_log_group_name
  engine_log_group_name = module.monitoring.cache_engine_log_group_name
}

module "iam" {
  source = "../../modules/iam"

  name                   = local.name
  uploads_bucket_arn     = module.storage.uploads_bucket_arn
  uploads_kms_key_arn    = module.storage.uploads_kms_key_arn
  upload_prefixes        = ["uploads/", "users/", "sessions/", "assets/"]
  ecr_repository_arns    = values(module.registry.repository_arns)
  app_log_group_arn      = module.monitoring.app_log_group_arn
  secret_arns            = [module.database.secret_arn, module.cache.secret_arn]
  secret_kms_key_arns    = [module.database.kms_key_arn, module.cache.kms_key_arn]
  enable_execute_command = var.enable_execute_command
  exec_kms_key_arn       = module.monitoring.kms_key_arn
}

module "alb" {
  source = "../../modules/alb"

  name                             = local.name
  vpc_id                           = module.network.vpc_id
  public_subnet_ids                = module.network.public_subnet_ids
  security_group_ids               = [module.network.alb_security_group_id]
  certificate_arn                  = var.certificate_arn
  idle_timeout                     = 120
  target_port                      = 3000
  health_check_path                = "/health"
  health_check_interval            = 10
  health_check_unhealthy_threshold = 3
  deregistration_delay             = 25
  access_logs_bucket               = module.storage.logs_bucket_name
  waf_log_group_arn                = module.monitoring.waf_log_group_arn
  route53_zone_id                  = var.route53_zone_id
  domain_name                      = var.domain_name
}

module "service" {
  source = "../../modules/service"

  name                     = local.name
  service_name             = local.service_name
  image_repository_url     = module.registry.repository_urls["dragoman"]
  image_tag                = var.image_tag
  pgbouncer_repository_url = module.registry.repository_urls["dragoman-pgbouncer"]
  pgbouncer_image_tag      = var.pgbouncer_image_tag

  task_cpu       = 512
  task_memory    = 1024
  container_port = 3000
  stop_timeout   = 30

  min_capacity               = local.min_tasks
  max_capacity               = local.max_tasks
  cpu_target_percent         = 60
  request_count_target       = 1000
  deployment_maximum_percent = 150

  pgbouncer_default_pool_size  = 16
  pgbouncer_reserve_pool_size  = 4
  pgbouncer_max_db_connections = 20

  execution_role_arn      = module.iam.execution_role_arn
  task_role_arn           = module.iam.task_role_arn
  subnet_ids              = module.network.private_subnet_ids
  security_group_ids      = [module.network.tasks_security_group_id]
  target_group_arn        = module.alb.target_group_arn
  alb_arn_suffix          = module.alb.arn_suffix
  target_group_arn_suffix = module.alb.target_group_arn_suffix
  log_group_name          = module.monitoring.app_log_group_name
  database_secret_arn     = module.database.secret_arn
  redis_secret_arn        = module.cache.secret_arn
  redis_cluster           = module.cache.cluster_mode
  jwt_secret_arn          = module.iam.jwt_secret_arn
  uploads_bucket_name     = module.storage.uploads_bucket_name
  public_url              = "https://${var.domain_name}"
  enable_execute_command  = var.enable_execute_command
  exec_kms_key_arn        = module.monitoring.kms_key_arn
  extra_environment       = var.extra_environment

  # DATABASE_READ_URL (the first replica, directly) exactly when the database has a replica.
  database_read_replica_count = var.db_read_replica_count
}

module "monitoring" {
  source = "../../modules/monitoring"

  name               = local.name
  service_name       = local.service_name
  app_log_group_name = local.app_log_group_name
  log_retention_days = var.log_retention_days
  alarm_emails       = var.alarm_emails
  slack_team_id      = var.slack_team_id
  slack_channel_id   = var.slack_channel_id

  alb_arn_suffix   = module.alb.arn_suffix
  ecs_cluster_name = local.name
  ecs_service_name = local.service_name
  max_task_count   = local.max_tasks

  # Names, not module outputs: the database and cache modules take log groups from this module.
  db_instance_identifier     = local.name
  cache_replication_group_id = local.name
  # Cluster mode: three shards (the cache module's default) of a primary and one replica.
  cache_node_count = 2
  cache_shards     = var.cache_cluster_mode ? 3 : 0

  api_5xx_rate_threshold_percent = 5
  match_time_p95_threshold_ms    = 45000
}
