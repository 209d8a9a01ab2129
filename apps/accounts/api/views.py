"""Thin views over `registration`, `tokens` and `profiles`; lockout is axes' (lockout.py)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import profiles, registration, tokens
from apps.accounts.api.serializers import MeSerializer, RegisterSerializer, TokenSerializer
from apps.events.api.views import errors

BAD_CREDENTIALS = "Unable to log in with the provided credentials."


class RegisterView(generics.GenericAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = RegisterSerializer

    @extend_schema(
        summary="Create an account", responses={201: RegisterSerializer, **errors(400, 415)}
    )
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user, token = registration.register(**serializer.validated_data)
        except registration.UsernameTaken as exc:
            raise serializers.ValidationError({"username": ["This username is taken."]}) from exc
        return Response(
            {"id": user.pk, "username": user.get_username(), "token": token.key},
            status=status.HTTP_201_CREATED,
        )


class TokenView(generics.GenericAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = TokenSerializer

    @extend_schema(
        summary="Log in: a new token",
        description="Repeated failures for a username or from an address are locked out: 429 "
        "with `Retry-After`, even with the right password.",
        responses={200: TokenSerializer, **errors(400, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Django's request, where axes flags a lockout for its middleware to answer 429.
        user = authenticate(request._request, **serializer.validated_data)
        if user is None:
            raise serializers.ValidationError(BAD_CREDENTIALS)
        token = tokens.issue(user)
        return Response(TokenSerializer({"token": token.key, "expires_at": token.expires_at}).data)


class LogoutView(generics.GenericAPIView):
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = None

    @extend_schema(
        summary="Revoke the token of this request", request=None, responses={204: None, **errors()}
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AuthToken):
            tokens.revoke(request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(generics.GenericAPIView):
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = MeSerializer

    def me(self, user: User) -> dict[str, Any]:
        profile = profiles.profile_of(user)
        return MeSerializer(
            {
                "id": user.pk,
                "username": user.get_username(),
                "email": user.email,
                "timezone": profile.timezone,
                "email_messages": profile.email_messages,
                "calendar_url": self.request.build_absolute_uri(
                    reverse("events:calendar-feed", args=[profile.calendar_token])
                ),
            }
        ).data

    @extend_schema(summary="My account", responses={200: MeSerializer, **errors()})
    def get(self, request: Request) -> Response:
        return Response(self.me(cast(User, request.user)))

    @extend_schema(
        summary="Change my email, time zone or message opt-out",
        description="`id`, `username` and `calendar_url` are not writable (400).",
        responses={200: MeSerializer, **errors(400, 415)},
    )
    def patch(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profiles.update_profile(cast(User, request.user), **serializer.validated_data)
        return Response(self.me(cast(User, request.user)))


class CalendarResetView(MeView):
    http_method_names = ["post", "options"]

    @extend_schema(
        summary="A new secret calendar feed address",
        description="The old `calendar_url` answers 404 from now on.",
        request=None,
        responses={200: MeSerializer, **errors()},
    )
    def post(self, request: Request) -> Response:
        profiles.reset_calendar_token(cast(User, request.user))
        return Response(self.me(cast(User, request.user)))
