output "bucket" {
  description = "The artifact bucket, as SHELFCAST_ARTIFACT_URI and `--bucket` take it."
  value       = "gs://${google_storage_bucket.artifacts.name}"
}

output "registry" {
  description = "The Artifact Registry Docker repository (`shelfcast stack vertex --registry`)."
  value       = "${google_artifact_registry_repository.shelfcast.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.shelfcast.repository_id}"
}

output "log_table" {
  description = "Where Vertex AI endpoints log requests and responses."
  value       = "bq://${var.project_id}.${google_bigquery_dataset.logs.dataset_id}"
}

output "deployer_service_account" {
  description = "CI's account for shelfcast package, deploy and train."
  value       = google_service_account.deployer.email
}

output "serving_service_account" {
  description = "The endpoint's runtime identity (SHELFCAST_ENDPOINTS__VERTEX_SERVICE_ACCOUNT)."
  value       = google_service_account.serving.email
}

output "pipelines_service_account" {
  description = "The ZenML Vertex AI orchestrator's workload account (`--service-account`)."
  value       = google_service_account.pipelines.email
}

output "shelfcast_env" {
  description = "Environment for `shelfcast package` and `shelfcast deploy` (add SHELFCAST_ENDPOINTS__SERVING_IMAGE_URI)."
  value = {
    GCP_PROJECT                                 = var.project_id
    GCP_REGION                                  = var.region
    SHELFCAST_ARTIFACT_URI                      = "gs://${google_storage_bucket.artifacts.name}"
    SHELFCAST_ENDPOINTS__VERTEX_SERVICE_ACCOUNT = google_service_account.serving.email
  }
}
