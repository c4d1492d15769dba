"""jobclusters: event-driven orchestration of Azure job clusters on Azure Functions."""

__version__ = "0.1.0"
