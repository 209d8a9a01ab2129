from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm, UsernameField


class SignupForm(UserCreationForm):
    """Django's form, so AUTH_PASSWORD_VALIDATORS apply as on the API; plus a required email."""

    email = forms.EmailField(required=True)

    class Meta:
        model = get_user_model()
        fields = ("username", "email")
        field_classes = {"username": UsernameField}
