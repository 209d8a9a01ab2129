"""Settings for the test suite: production settings with a fast password hasher.

PBKDF2 costs about 0.3 s a hash on these machines; the suite creates thousands of users. The
worker, beat and Daphne processes that tests start use this module too (tests/support/processes.py),
so they can check the passwords the suite set.
"""

from core.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Static files straight from the apps, as in development: no collectstatic before a test run.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
