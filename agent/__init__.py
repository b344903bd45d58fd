"""The collector agent that runs on GPU and NPU nodes (docs/monitoring.md): NVML or npu-smi sampling,
job attribution (Kubernetes, Slurm, environment, labels file), fair splits of shared devices, signed
records, a durable spool, delivery to the platform and Prometheus metrics. It does not use Django, and
installs on its own (``pip install ./agent``: the ``yingdu-agent`` distribution)."""

__version__ = "1.1.0"
