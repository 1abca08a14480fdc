variable "project_id" {
  description = "GCP project ID that holds every Shelfcast resource."
  type        = string
}

variable "region" {
  description = "Region of the bucket, the image repository, the log dataset and Vertex AI."
  type        = string
  default     = "europe-west2"
}

variable "bucket_name" {
  description = "GCS bucket for releases, model bundles and pipeline artifacts; null means \"<project_id>-shelfcast\"."
  type        = string
  default     = null
}

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted object version is kept in the bucket before it is removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "labels" {
  description = "Labels added to the bucket, the repository and the dataset."
  type        = map(string)
  default     = {}
}
