"""What a job sees when it runs on the local cluster: `dbutils`, a local-mode `spark`, mapped paths.

Everything in this package uses the standard library only (PySpark when it is there), because it runs
inside the job's own interpreter, which need not be the app's venv.
"""
