"""The public HTTP API (CONTRACT §4), Django REST Framework."""
