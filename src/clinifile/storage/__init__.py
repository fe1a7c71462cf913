"""Object storage: the interface, its S3 implementation, the embedded SeaweedFS runner."""
