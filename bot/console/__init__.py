"""The terminal console: a chat adapter over the same desk, for trying the product locally."""
