"""gwctl: configuration-as-code and safe deployment for the Milestone XProtect API Gateway."""

__version__ = "0.1.0"
