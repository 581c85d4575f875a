"""Recorded AWS answers about one training pipeline execution, for the promotion tests."""

from __future__ import annotations

BUCKET = "dev-artifacts-1a2b3c"
KEY = "pipeline/models/sagemaker-gbdt-dev-run-1/output/model.tar.gz"
REPORT = {
    "environment_prefix": "sagemaker-gbdt-dev",
    "environment": "dev",
    "execution": "arn:aws:states:us-east-1:123456789012:execution:Pipeline:run-1",
    "commit": "0a1b2c3",
    "training_job": "sagemaker-gbdt-dev-run-1",
    "model_artifact": f"s3://{BUCKET}/{KEY}",
    "artifacts_bucket": BUCKET,
    "model_name": "sagemaker-gbdt-dev-run-1",
    "transform_job": "sagemaker-gbdt-dev-run-1",
    "scores": f"s3://{BUCKET}/pipeline/scores/sagemaker-gbdt-dev-run-1/",
    "hyperparameters": {"objective": "binary"},
}
