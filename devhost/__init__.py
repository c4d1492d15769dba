"""devhost: run a Python v2 Azure Functions app with Durable Functions on one machine, without Core Tools."""
