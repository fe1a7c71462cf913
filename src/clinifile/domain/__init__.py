"""The rules of the domain, free of HTTP and SQL."""
