"""The HTTP API: FastAPI app, dependencies, one routes module per resource."""
