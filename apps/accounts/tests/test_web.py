"""The sign-up page applies Django's password validators, as the API does; the profile admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts import profiles

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("password", "why"),
    [("        ", "only whitespace"), ("password1", "too common"), ("short", "too short")],
)
def test_sign_up_refuses_weak_passwords_with_a_form_error(password: str, why: str) -> None:
    response = Client().post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": password,
            "password2": password,
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(why in message for message in errors["password2"]), errors
    assert why in response.content.decode()
    assert not User.objects.exists()


def test_sign_up_with_a_sturdy_password_creates_the_account() -> None:
    response = Client().post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a sturdy passphrase 42",
            "password2": "a sturdy passphrase 42",
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(username="carol").exists()


def test_staff_see_profiles_in_the_admin() -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "an unguessable phrase")
    profiles.update_profile(admin, timezone="Asia/Tokyo")
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/accounts/profile/")
    assert response.status_code == 200
    assert b"Asia/Tokyo" in response.content
