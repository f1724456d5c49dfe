"""A model field stored encrypted (see jiayi.crypto.cipher), read and written as plain text by the ORM.

Only the lookups that make sense on ciphertext exist: `exact`, `in` and `isnull` on deterministic fields,
`isnull` (and `exact` with "") on randomised ones. Prefix, suffix, substring and case-insensitive
lookups raise FieldError instead of silently matching nothing; ordering by such a field orders by
ciphertext, which is why nothing does.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.lookups import Exact, In, IsNull, Lookup, Transform

from jiayi.crypto import cipher, keys


class EncryptedCharField(models.CharField):  # type: ignore[type-arg]
    """A CharField whose column holds `v<n>:<base64url>` ciphertext; `max_length` limits the plain text.

    `purpose` (the associated data) defaults to the field's name when the field is first declared and is
    then fixed in the migrations, so renaming the field does not make its values unreadable. Two fields
    with the same purpose (a resident's and a staff member's phone) share ciphertexts and can be joined.
    """

    description = "Text encrypted at rest (AES-SIV)"

    def __init__(self, *args: Any, purpose: str | None = None, deterministic: bool = True, **kwargs: Any):
        self.purpose = purpose
        self.deterministic = deterministic
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        if self.purpose is None:
            self.purpose = name

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        if not self.deterministic:
            kwargs["deterministic"] = False
        return name, path, args, kwargs

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        # Ciphertext is longer than the text (16-byte tag, base64, prefix): an unbounded text column.
        return models.TextField().db_type(connection)

    @property
    def associated_data(self) -> str:
        assert self.purpose is not None, "the field is not attached to a model yet"
        return self.purpose

    def encrypt(self, value: str) -> str:
        return cipher.encrypt(value, self.associated_data, deterministic=self.deterministic)

    def decrypt(self, token: str) -> str:
        try:
            return cipher.decrypt(token, self.associated_data, deterministic=self.deterministic)
        except cipher.DecryptionError as exc:
            model = getattr(self, "model", None)
            where = f"{model._meta.label}.{self.name}" if model is not None else self.associated_data
            raise cipher.DecryptionError(f"{where}: {exc}") from None

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> str | None:
        if value is None:
            return None
        return self.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or hasattr(value, "resolve_expression"):
            return value
        return self.encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> type[Lookup[Any]] | None:
        if lookup_name == "exact":
            return EncryptedExact
        if lookup_name == "in":
            return EncryptedIn
        if lookup_name == "isnull":
            return IsNull
        return None

    def get_transform(self, lookup_name: str) -> type[Transform] | None:
        return None


def _field(lookup: Lookup[Any]) -> EncryptedCharField:
    field = lookup.lhs.output_field
    assert isinstance(field, EncryptedCharField)
    return field


def _refuse_randomised(field: EncryptedCharField) -> FieldError:
    return FieldError(
        f"{field.associated_data} is encrypted with a random nonce: it cannot be looked up by value"
    )


class EncryptedExact(Exact):  # type: ignore[type-arg]
    """`field = value`; while a rotation is under way, `field IN (value under each key)`."""

    def get_prep_lookup(self) -> Any:
        self.plain: str | None = None
        if (
            self.rhs_is_direct_value()
            and self.rhs is not None
            and not hasattr(self.rhs, "resolve_expression")
        ):
            field = _field(self)
            self.plain = str(field.to_python(self.rhs))
            if not field.deterministic and self.plain != "":
                raise _refuse_randomised(field)
        return super().get_prep_lookup()

    def as_sql(self, compiler: Any, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        field = _field(self)
        if self.plain and len(keys.keyring().versions) > 1:
            tokens = cipher.encrypt_all(self.plain, field.associated_data)
            lhs_sql, params = self.process_lhs(compiler, connection)
            placeholders = ", ".join(["%s"] * len(tokens))
            return f"{lhs_sql} IN ({placeholders})", (*params, *tokens)
        return super().as_sql(compiler, connection)


class EncryptedIn(In):  # type: ignore[type-arg]
    """`field IN (values)`, each value under every key that decrypts."""

    def get_prep_lookup(self) -> Any:
        field = _field(self)
        if not self.rhs_is_direct_value() or hasattr(self.rhs, "resolve_expression"):
            return super().get_prep_lookup()
        if not field.deterministic:
            raise _refuse_randomised(field)
        tokens: dict[str | None, None] = {}
        for value in self.rhs:
            if value is None:
                tokens[None] = None
                continue
            for token in cipher.encrypt_all(str(field.to_python(value)), field.associated_data):
                tokens[token] = None
        return list(tokens)
