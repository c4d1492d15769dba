"""The user's side of the HTTP API: a typed client, the embedded-default launcher, and run progress."""
