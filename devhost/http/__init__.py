"""The HTTP front of devhost: HTTP-triggered functions and the Durable client API on one loopback server."""
