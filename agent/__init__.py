"""The collector agent that runs on GPU nodes (docs/monitoring.md): NVML sampling, job attribution,
signed records, a durable spool and delivery to the platform. It does not use Django."""
