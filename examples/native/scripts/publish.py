"""Example task for examples/native/daily-etl.yaml: publishes the transformed data."""

print("published")
