"""The prediction server: a FastAPI app serving every title of a release (Vertex AI contract)."""
