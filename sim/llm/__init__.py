"""LLM points for experiments (point.py), the transfer-level run's summary (summary.py) and
its text (text.py), the model and xPU preset tables (presets.py), `membound bench llm`
(bench.py, cli.py). The engines live in sim/transfer (transfer level) and sim/llm_machine
(request level); the workloads in workloads/llm."""
