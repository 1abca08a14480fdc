"""Endpoint backends (local server processes, Vertex AI) behind one interface, and rollouts."""

from shelfcast.endpoints.backends import backend_for
from shelfcast.endpoints.base import (
    DeployedModel,
    DeploymentFailed,
    Endpoint,
    EndpointBackend,
    EndpointError,
    EndpointNotFound,
)

__all__ = [
    "DeployedModel",
    "DeploymentFailed",
    "Endpoint",
    "EndpointBackend",
    "EndpointError",
    "EndpointNotFound",
    "backend_for",
]
