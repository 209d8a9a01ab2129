"""The environment variables of rate limits, lockouts and tokens (CONTRACT §7), read at start-up."""

from __future__ import annotations

from tests.ops.test_settings_ops import PRODUCTION, settings_of


def test_defaults_a_cache_of_its_own_no_trusted_proxy_30_day_tokens_and_5_failures() -> None:
    values = settings_of(
        "CACHES",
        "REST_FRAMEWORK",
        "REST_KNOX",
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
        **{
            **PRODUCTION,
            "REDIS_URL": "redis://:pw@redis.example.com:6379?health_check_interval=10",
        },
    )
    cache = values["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://:pw@redis.example.com:6379/3?health_check_interval=10"
    assert values["REST_FRAMEWORK"]["NUM_PROXIES"] == 0
    assert values["REST_KNOX"]["TOKEN_TTL"] == "30 days, 0:00:00"
    assert values["REST_KNOX"]["AUTH_HEADER_PREFIX"] == "Token"
    assert (values["AXES_FAILURE_LIMIT"], values["AXES_COOLOFF_TIME"]) == (5, "0:15:00")


def test_each_one_comes_from_its_variable() -> None:
    values = settings_of(
        "CACHES",
        "REST_FRAMEWORK",
        "REST_KNOX",
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
        **{
            **PRODUCTION,
            "CACHE_URL": "rediss://:pw@cache.example.com:6380/5",
            "TRUSTED_PROXY_COUNT": "1",
            "API_TOKEN_TTL_DAYS": "7",
            "AXES_FAILURE_LIMIT": "10",
            "AXES_COOLOFF_MINUTES": "60",
        },
    )
    location = values["CACHES"]["default"]["LOCATION"]
    assert location == "rediss://:pw@cache.example.com:6380/5?ssl_cert_reqs=required"
    assert values["REST_FRAMEWORK"]["NUM_PROXIES"] == 1
    assert values["REST_KNOX"]["TOKEN_TTL"] == "7 days, 0:00:00"
    assert (values["AXES_FAILURE_LIMIT"], values["AXES_COOLOFF_TIME"]) == (10, "1:00:00")
