"""LLM workloads as task graphs (workloads/llm/taskgraph.py): attention, KV caches, models."""
