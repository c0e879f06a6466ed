"""What every function runs on: AWS clients with short timeouts (``aws``), botocore's data loader
made cheaper for the services tokengate calls (``botocore_data``), and logging, metrics and
tracing with the redaction rule (``observability``).
"""

__all__ = ["aws", "botocore_data", "observability"]
