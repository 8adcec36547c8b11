"""Why a backup or restore was refused: one exception type per kind of failure."""

from __future__ import annotations


class BackupError(Exception):
    """A backup could not be made, trusted or restored; the message says why and what to do."""


class KeyFormatError(BackupError, ValueError):
    """The backup key is not 32 random bytes in base64 or hex."""


class WrongKeyError(BackupError):
    """The backup was encrypted with another key than the one supplied."""


class IntegrityError(BackupError):
    """Stored bytes differ from what the manifest recorded: truncated, modified or unreadable."""


class AuthenticityError(BackupError):
    """A MAC or AES-GCM tag did not verify: the data was altered or forged."""


class RestoreMismatchError(BackupError):
    """A restored database differs from the manifest (row counts or content checksums)."""


class BackupUnavailableError(BackupError):
    """No such backup (or no complete one) in the bucket."""
