"""Helpers of the multi-host test: hosts as Linux namespaces, the server host's services."""
