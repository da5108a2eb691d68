from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from phi_core_api.auth.emails import canonical_email

# An address checked by email-validator, then in the one spelling accounts are stored in
# (auth/emails.py: look-alikes are the same address or refused).
Email = Annotated[EmailStr, AfterValidator(canonical_email)]
Password = Annotated[str, Field(min_length=8, max_length=256)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    password: Password
    name: Name | None = None


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    password: Annotated[str, Field(min_length=1, max_length=256)]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    name: str | None
    created_at: datetime


class SignupOut(UserOut):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MembershipOut(BaseModel):
    org_id: uuid.UUID
    org_name: str
    role: str


class MeOut(UserOut):
    memberships: list[MembershipOut]
    # Platform administrators see /admin in the web app and may call the /admin routes.
    is_platform_admin: bool
