"""Credentials at rest: a JSON model field sealed with Fernet (cryptography).

Keys come from settings.FIELD_ENCRYPTION_KEYS: the first encrypts, any decrypts
(MultiFernet), so keys rotate by putting a new one first and running
`manage.py rotate_psa_keys`. The database only ever holds the token.

A value that no key opens is loud: `Sealed.reveal()` raises CredentialsUnreadable
(naming the row, never the secret). It does not raise on load, so the SDM can
still list connections and replace the credentials of the broken one.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.db.models.query_utils import DeferredAttribute


class CredentialsUnreadable(Exception):
    """No key in FIELD_ENCRYPTION_KEYS opens these credentials."""


def fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


class Sealed:
    """A secret mapping: kept encrypted until `reveal()`, never shown by repr or str."""

    def __init__(self, *, token: str | None = None, value: dict[str, Any] | None = None) -> None:
        self._token = token
        self._value = value

    def reveal(self) -> dict[str, Any]:
        if self._value is None:
            if not self._token:
                return {}
            try:
                self._value = json.loads(fernet().decrypt(self._token.encode()))
            except InvalidToken as exc:
                raise CredentialsUnreadable(
                    "the stored credentials cannot be decrypted with FIELD_ENCRYPTION_KEYS "
                    "(was the key that sealed them removed?); enter them again"
                ) from exc
        return dict(self._value)

    def token(self) -> str:
        if self._token is None:
            self._token = fernet().encrypt(json.dumps(self._value or {}).encode()).decode()
        return self._token

    def rotated(self) -> Sealed:
        """The same secret sealed with the first key (MultiFernet.rotate)."""
        if not self._token:
            return Sealed(value=self._value or {})
        try:
            return Sealed(token=fernet().rotate(self._token.encode()).decode())
        except InvalidToken as exc:
            raise CredentialsUnreadable("no key in FIELD_ENCRYPTION_KEYS opens them") from exc

    def field_names(self) -> list[str]:
        return sorted(self.reveal())

    def __bool__(self) -> bool:
        return bool(self._token) or bool(self._value)

    def __repr__(self) -> str:
        return "<sealed credentials>"

    __str__ = __repr__


class _SealedAttribute(DeferredAttribute):
    """The model attribute: whatever is assigned (a dict, a token, "") reads back as a
    Sealed at once, so `connection.credentials.reveal()` works before any reload."""

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = self.field.to_python(value)


class EncryptedJSONField(models.TextField):
    """A dict stored as a Fernet token; reads give a `Sealed`, writes take a dict or Sealed."""

    descriptor_class = _SealedAttribute

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Sealed:
        return Sealed(token=value or None)

    def to_python(self, value: Any) -> Sealed:
        if isinstance(value, Sealed):
            return value
        if isinstance(value, dict):
            return Sealed(value=value)
        return Sealed(token=value or None)

    def get_prep_value(self, value: Any) -> str:
        return self.to_python(value).token() if value else ""

    def value_to_string(self, obj: models.Model) -> str:
        return self.get_prep_value(self.value_from_object(obj))

    def formfield(self, **kwargs: Any) -> None:
        return None  # never a form field: the admin takes credentials through its own form
