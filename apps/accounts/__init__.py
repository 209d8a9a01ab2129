"""Accounts: registration, tokens, login lockout, the user's profile and the sign-up page."""
