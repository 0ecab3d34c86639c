"""The transfer-level engine: task graphs on shared-bandwidth resources (model.py is the spec)."""
