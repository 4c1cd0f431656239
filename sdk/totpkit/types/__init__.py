"""Clerk wire structs: the single definition the server encodes with and the SDK decodes with."""

from ._base import ClerkStruct, JSONObject
from .bapi import TOTPVerification, UserIdResponse
from .client import Client, ClientWrapped
from .environment import Environment, build_environment
from .errors import ClerkAPIError, ClerkErrors
from .session import JWK, JWKS, ActiveSession, PublicUserData, Session, SessionActivity, Token
from .session_verification import SessionVerification, SessionVerificationLevel
from .sign_in import SignIn, SignInFactor, SignInUserData
from .totp import TOTP, BackupCodes, DeletedObject
from .user import EmailAddress, User, Verification

__all__ = (
    "JWK",
    "JWKS",
    "TOTP",
    "ActiveSession",
    "BackupCodes",
    "ClerkAPIError",
    "ClerkErrors",
    "ClerkStruct",
    "Client",
    "ClientWrapped",
    "DeletedObject",
    "EmailAddress",
    "Environment",
    "JSONObject",
    "PublicUserData",
    "Session",
    "SessionActivity",
    "SessionVerification",
    "SessionVerificationLevel",
    "SignIn",
    "SignInFactor",
    "SignInUserData",
    "TOTPVerification",
    "Token",
    "User",
    "UserIdResponse",
    "Verification",
    "build_environment",
)
