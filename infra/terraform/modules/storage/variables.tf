variable "name" {
  description = "Prefix of the bucket names; the account id is appended to make them globally unique."
  type        = string
}

variable "cors_allowed_origins" {
  description = "Origins allowed to PUT and GET objects from a browser (the web client, admin pages)."
  type        = list(string)
}

variable "pending_upload_tag_key" {
  description = "Tag key the API signs into every pre-signed PUT and changes when the upload completes."
  type        = string
  default     = "upload-state"
}

variable "pending_upload_tag_value" {
  description = "Tag value of an upload that was never completed."
  type        = string
  default     = "pending"
}

variable "abandoned_upload_expiry_days" {
  description = "Days after which an upload still tagged pending is deleted (S3 lifecycle runs once a day, so this is 24 to 48 hours)."
  type        = number
  default     = 1
}

variable "noncurrent_version_expiry_days" {
  description = "Days an overwritten or deleted upload stays recoverable as a noncurrent version."
  type        = number
  default     = 30
}

variable "logs_glacier_after_days" {
  description = "Days after which log objects move to the GLACIER storage class (the seed: 30)."
  type        = number
  default     = 30
}

variable "logs_expiry_days" {
  description = "Days after which log objects are deleted."
  type        = number
  default     = 400
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
