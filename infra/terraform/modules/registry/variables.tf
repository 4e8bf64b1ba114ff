variable "name" {
  description = "Prefix for names of supporting resources (the KMS key)."
  type        = string
}

variable "repositories" {
  description = "Repository names: the API image and the PgBouncer sidecar image."
  type        = list(string)
  default     = ["dragoman", "dragoman-pgbouncer"]
}

variable "keep_images" {
  description = "How many images each repository keeps."
  type        = number
  default     = 50
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images expire."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
