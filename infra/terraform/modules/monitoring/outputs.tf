output "app_log_group_name" {
  description = "Log group of the API tasks."
  value       = aws_cloudwatch_log_group.app.name
}

output "app_log_group_arn" {
  description = "ARN of the API log group."
  value       = aws_cloudwatch_log_group.app.arn
}

output "waf_log_group_arn" {
  description = "Log group that receives WAF logs."
  value       = aws_cloudwatch_log_group.waf.arn
}

output "cache_slow_log_group_name" {
  description = "Log group for Redis slow-log delivery."
  value       = aws_cloudwatch_log_group.cache["slow-log"].name
}

output "cache_engine_log_group_name" {
  description = "Log group for Redis engine-log delivery."
  value       = aws_cloudwatch_log_group.cache["engine-log"].name
}

output "kms_key_arn" {
  description = "KMS key of the log groups and the alarm topic."
  value       = aws_kms_key.monitoring.arn
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of the alarms, by purpose."
  value = {
    api_5xx_rate      = aws_cloudwatch_metric_alarm.api_5xx_rate.alarm_name
    match_time_p95    = aws_cloudwatch_metric_alarm.match_time_p95.alarm_name
    tasks_at_maximum  = aws_cloudwatch_metric_alarm.tasks_at_maximum.alarm_name
    dead_jobs_growing = aws_cloudwatch_metric_alarm.dead_jobs_growing.alarm_name
    rds_cpu           = aws_cloudwatch_metric_alarm.rds_cpu.alarm_name
  }
}

output "chatbot_configuration_arn" {
  description = "ARN of the Chatbot Slack channel configuration, or null when Slack is not configured."
  value       = local.slack_enabled ? aws_chatbot_slack_channel_configuration.alarms[0].chat_configuration_arn : null
}
