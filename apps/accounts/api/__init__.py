"""/api/auth/: register, token, logout, me (CONTRACT §4)."""
