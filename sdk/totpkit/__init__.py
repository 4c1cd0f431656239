"""totpkit: an async client for Clerk's Frontend API, with TOTP multi-factor authentication."""
