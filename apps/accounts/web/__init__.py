"""The account pages: log in, log out, sign up (mounted at /accounts/ by core/urls.py)."""
