# Shelfcast's GCP resources: APIs, the artifact bucket, the image repository, the
# request-response log dataset and three service accounts with least-privilege roles.
# docs/cloud.md explains every role; tests/test_infra.py keeps the two in step.
#
# IAM is additive only (`*_iam_member`): nothing here replaces a policy someone else set.
# Bucket roles are granted on the bucket, image roles on the repository and
# `roles/iam.serviceAccountUser` on single service accounts, never on the project.

locals {
  bucket_name   = coalesce(var.bucket_name, "${var.project_id}-shelfcast")
  repository_id = "shelfcast"
  log_dataset   = "shelfcast_logs" # LOG_DATASET in src/shelfcast/endpoints/vertex.py
  labels        = merge({ managed_by = "terraform", app = "shelfcast" }, var.labels)

  apis = toset([
    "aiplatform.googleapis.com",
    "storage.googleapis.com",
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
  ])
}

# -- APIs ----------------------------------------------------------------------------------

resource "google_project_service" "apis" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# -- storage: releases, bundles, ZenML and MLflow artifacts --------------------------------

resource "google_storage_bucket" "artifacts" {
  name     = local.bucket_name
  project  = var.project_id
  location = var.region
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Releases are written once; versioning keeps an accidental overwrite or delete recoverable.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# -- Artifact Registry: the serving and pipeline images ------------------------------------

resource "google_artifact_registry_repository" "shelfcast" {
  project       = var.project_id
  location      = var.region
  repository_id = local.repository_id
  format        = "DOCKER"
  description   = "Shelfcast serving and pipeline images"
  labels        = local.labels

  depends_on = [google_project_service.apis]
}

# -- BigQuery: Vertex AI endpoint request-response log -------------------------------------

resource "google_bigquery_dataset" "logs" {
  project                    = var.project_id
  dataset_id                 = local.log_dataset
  location                   = var.region
  friendly_name              = "Shelfcast request-response log"
  description                = "Vertex AI endpoint request-response logging (bq://PROJECT.shelfcast_logs)"
  labels                     = local.labels
  delete_contents_on_destroy = false

  depends_on = [google_project_service.apis]
}

# -- service accounts ----------------------------------------------------------------------

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "shelfcast-deployer"
  display_name = "Shelfcast deployer"
  description  = "CI: shelfcast package, shelfcast deploy and training pipeline submission"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "serving" {
  project      = var.project_id
  account_id   = "shelfcast-serving"
  display_name = "Shelfcast prediction server"
  description  = "Runtime identity of the Vertex AI endpoint's prediction server"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "pipelines" {
  project      = var.project_id
  account_id   = "shelfcast-pipelines"
  display_name = "Shelfcast pipelines"
  description  = "Workload account the ZenML Vertex AI orchestrator runs pipeline steps as"

  depends_on = [google_project_service.apis]
}

# -- shelfcast-serving: reads the bucket, writes its own logs ------------------------------

resource "google_storage_bucket_iam_member" "serving_object_viewer" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.serving.member
}

resource "google_project_iam_member" "serving_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.serving.member
}

# -- shelfcast-pipelines: runs the steps of Vertex AI pipeline jobs ------------------------

resource "google_project_iam_member" "pipelines_aiplatform_user" {
  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = google_service_account.pipelines.member
}

resource "google_storage_bucket_iam_member" "pipelines_object_admin" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.pipelines.member
}

resource "google_artifact_registry_repository_iam_member" "pipelines_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.shelfcast.location
  repository = google_artifact_registry_repository.shelfcast.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.pipelines.member
}

resource "google_service_account_iam_member" "pipelines_act_as_pipelines" {
  service_account_id = google_service_account.pipelines.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.pipelines.member
}

# -- shelfcast-deployer: package, deploy, submit training ----------------------------------

resource "google_project_iam_member" "deployer_aiplatform_user" {
  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = google_service_account.deployer.member
}

resource "google_storage_bucket_iam_member" "deployer_object_viewer" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.deployer.member
}

resource "google_storage_bucket_iam_member" "deployer_object_creator" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.deployer.member
}

resource "google_artifact_registry_repository_iam_member" "deployer_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.shelfcast.location
  repository = google_artifact_registry_repository.shelfcast.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.deployer.member
}

resource "google_service_account_iam_member" "deployer_act_as_serving" {
  service_account_id = google_service_account.serving.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer.member
}

resource "google_service_account_iam_member" "deployer_act_as_pipelines" {
  service_account_id = google_service_account.pipelines.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer.member
}
