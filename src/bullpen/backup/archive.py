"""Backup archives: tar + gzip + chunked AES-256-GCM, SHA-256 checksums, and a verified unpack."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import hashlib
import hmac
import io
import os
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bullpen.backup.errors import AuthenticityError, IntegrityError, KeyFormatError

KEY_BYTES = 32
SALT_BYTES = 16
TAG_BYTES = 16
# 1 MiB of plaintext per AES-GCM chunk: bounded memory, and each chunk is checked before use.
CHUNK_BYTES = 1 << 20
MAGIC = b"BPBAK\x00\x01\x00"  # bullpen backup payload, format 1
CIPHER = "AES-256-GCM"
KDF = "HKDF-SHA256"
COMPRESSION = "gzip"
_READ_BYTES = 1 << 20


class BackupKey:
    """The 256-bit master key. Its repr shows only the key id, so it can never leak into logs."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise KeyFormatError(f"a backup key is {KEY_BYTES} bytes, got {len(secret)}")
        self._secret = secret

    @classmethod
    def parse(cls, text: str) -> BackupKey:
        """A key from base64 (standard or URL-safe) or hex text, as `generate_key` prints.

        Raises:
            KeyFormatError: not exactly 32 bytes once decoded; passphrases are refused on purpose,
                because HKDF is only sound on a uniformly random key.
        """
        text = text.strip()
        candidates: list[bytes] = []
        if len(text) == 2 * KEY_BYTES:
            with contextlib.suppress(ValueError):
                candidates.append(bytes.fromhex(text))
        standard = text.replace("-", "+").replace("_", "/")  # accept URL-safe base64 too
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.append(base64.b64decode(standard, validate=True))
        for secret in candidates:
            if len(secret) == KEY_BYTES:
                return cls(secret)
        raise KeyFormatError(
            "the backup key must be 32 random bytes, base64- or hex-encoded "
            "(generate one with `bullpen backup keygen`)"
        )

    def key_id(self) -> str:
        """A short public fingerprint, recorded in manifests to recognise a wrong key at once."""
        return self._hkdf(b"", b"bullpen-backup/key-id", 8).hex()

    def derive(self, salt: bytes, purpose: str) -> bytes:
        """A 256-bit subkey for one backup (`salt`) and one use (`purpose`)."""
        return self._hkdf(salt, f"bullpen-backup/v1/{purpose}".encode(), KEY_BYTES)

    def _hkdf(self, salt: bytes, info: bytes, length: int) -> bytes:
        kdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info)
        return kdf.derive(self._secret)

    def __repr__(self) -> str:
        return f"BackupKey(id={self.key_id()})"

    __str__ = __repr__

    def __reduce__(self) -> object:
        # Refuse pickling: Prefect or anything else must never persist the key as a result.
        raise TypeError("BackupKey is not serialisable")


def generate_key() -> str:
    """A new random backup key, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


def mac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _nonce(index: int, final: bool) -> bytes:
    # STREAM construction: a counter plus a last-chunk flag, so reordering, dropping or
    # truncating whole chunks fails authentication. The key is unique per backup (fresh salt).
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class _EncryptingWriter(io.RawIOBase):
    """Write-only stream: plaintext in, MAGIC + AES-GCM chunks out, SHA-256 of the output kept."""

    def __init__(self, out: BinaryIO, key: bytes, aad: bytes) -> None:
        self._out, self._aead, self._aad = out, AESGCM(key), aad
        self._buffer = bytearray()
        self._index = 0
        self.sha256 = hashlib.sha256(MAGIC)
        self.bytes_out = len(MAGIC)
        out.write(MAGIC)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._buffer.extend(data)
        # Keep the last chunk buffered: only close() knows it is the final one.
        while len(self._buffer) > CHUNK_BYTES:
            self._emit(bytes(self._buffer[:CHUNK_BYTES]), final=False)
            del self._buffer[:CHUNK_BYTES]
        return len(data)

    def _emit(self, plain: bytes, final: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._index, final), plain, self._aad)
        self._out.write(sealed)
        self.sha256.update(sealed)
        self.bytes_out += len(sealed)
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buffer), final=True)
            self._buffer.clear()
        super().close()


class _DecryptingReader(io.RawIOBase):
    """Read-only stream over an encrypted payload: yields only plaintext whose tag verified."""

    def __init__(self, src: BinaryIO, key: bytes, aad: bytes) -> None:
        self._src, self._aead, self._aad = src, AESGCM(key), aad
        if src.read(len(MAGIC)) != MAGIC:
            raise IntegrityError("not a bullpen backup payload (bad header)")
        self._index = 0
        self._pending = src.read(CHUNK_BYTES + TAG_BYTES)
        self._plain = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._plain and not self._done:
            self._next_chunk()
        n = min(len(buffer), len(self._plain))
        buffer[:n] = self._plain[:n]
        self._plain = self._plain[n:]
        return n

    def _next_chunk(self) -> None:
        sealed = self._pending
        self._pending = self._src.read(CHUNK_BYTES + TAG_BYTES)
        final = not self._pending
        if len(sealed) < TAG_BYTES:
            raise AuthenticityError("payload truncated: an encrypted chunk is incomplete")
        try:
            self._plain = self._aead.decrypt(_nonce(self._index, final), sealed, self._aad)
        except InvalidTag as exc:
            raise AuthenticityError(
                f"payload chunk {self._index} failed authentication (AES-GCM tag): the backup "
                "was modified, truncated, or encrypted with another key"
            ) from exc
        self._index += 1
        self._done = final


@dataclass(frozen=True)
class Member:
    """One file in the archive: its name inside the archive and where it comes from."""

    name: str
    source: Path


@dataclass(frozen=True)
class PackedMember:
    name: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Packed:
    path: Path
    bytes: int
    sha256: str
    plain_bytes: int
    members: tuple[PackedMember, ...]


class _HashingReader:
    def __init__(self, fh: BinaryIO) -> None:
        self._fh, self.sha256, self.bytes = fh, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.sha256.update(data)
        self.bytes += len(data)
        return data


def write_archive(
    out: Path, members: Iterable[Member], key: bytes, aad: bytes, level: int = 6
) -> Packed:
    """Stream `members` through tar, gzip and AES-GCM into `out`, hashing each member on the way.

    Args:
        key: the per-backup payload subkey (`BackupKey.derive`).
        aad: bound to every chunk (the backup id), so payloads cannot be swapped between backups.
    """
    packed: list[PackedMember] = []
    plain = 0
    with out.open("wb") as raw:
        encrypted = _EncryptingWriter(raw, key, aad)
        # mtime=0: the gzip header must not vary with the clock.
        with (
            gzip.GzipFile(fileobj=encrypted, mode="wb", compresslevel=level, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            for member in members:
                info = tarfile.TarInfo(_safe_name(member.name))
                info.size = member.source.stat().st_size
                info.mode = 0o600
                with member.source.open("rb") as fh:
                    reader = _HashingReader(fh)
                    tar.addfile(info, reader)  # type: ignore[arg-type]
                if reader.bytes != info.size:
                    raise IntegrityError(f"{member.source} changed size while being archived")
                packed.append(PackedMember(info.name, reader.bytes, reader.sha256.hexdigest()))
                plain += reader.bytes
        encrypted.close()
    return Packed(out, encrypted.bytes_out, encrypted.sha256.hexdigest(), plain, tuple(packed))


def check_payload(path: Path, expected_bytes: int, expected_sha256: str) -> None:
    """Size and SHA-256 of a downloaded payload against the manifest, before any decryption.

    Raises:
        IntegrityError: truncated, extended or modified since the backup was made.
    """
    size = path.stat().st_size
    if size != expected_bytes:
        what = "truncated" if size < expected_bytes else "longer than recorded"
        raise IntegrityError(
            f"payload is {what}: {size} bytes, the manifest records {expected_bytes} "
            "(incomplete upload or damaged object); nothing was restored"
        )
    actual = sha256_file(path)
    if not hmac.compare_digest(actual, expected_sha256):
        raise IntegrityError(
            f"payload SHA-256 mismatch: {actual[:16]}... != recorded {expected_sha256[:16]}...; "
            "the backup was modified after it was made; nothing was restored"
        )


def extract_archive(
    path: Path, key: bytes, aad: bytes, expected: Sequence[PackedMember], dest: Path
) -> list[Path]:
    """Decrypt, decompress and unpack into `dest`, checking every member against `expected`.

    Only authenticated plaintext is ever parsed; `dest` is private scratch space, so a failure
    part-way leaves nothing outside it.

    Raises:
        AuthenticityError: a chunk failed its AES-GCM tag (tampered, truncated or wrong key).
        IntegrityError: missing, unexpected or altered members, or a corrupt gzip stream.
    """
    wanted = {m.name: m for m in expected}
    seen: list[Path] = []
    dest.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as raw:
        reader = io.BufferedReader(_DecryptingReader(raw, key, aad), buffer_size=_READ_BYTES)
        try:
            with (
                gzip.GzipFile(fileobj=reader, mode="rb") as gz,
                tarfile.open(fileobj=gz, mode="r|") as tar,
            ):
                for info in tar:
                    seen.append(_extract_member(tar, info, wanted, dest))
                # Read to the end so gzip checks its CRC and length trailer.
                while gz.read(_READ_BYTES):
                    pass
        except (OSError, EOFError, tarfile.TarError) as exc:
            raise IntegrityError(f"archive is corrupt after decryption: {exc}") from exc
    names = [p.relative_to(dest).as_posix() for p in seen]
    missing = sorted(set(wanted) - set(names))
    if missing or len(names) != len(set(names)):
        raise IntegrityError(f"archive members differ from the manifest (missing: {missing[:5]})")
    return seen


def _extract_member(
    tar: tarfile.TarFile, info: tarfile.TarInfo, wanted: dict[str, PackedMember], dest: Path
) -> Path:
    name = _safe_name(info.name)
    record = wanted.get(name)
    if record is None or not info.isfile():
        raise IntegrityError(f"archive member {name!r} is not in the manifest")
    target = dest / name
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(info)
    assert source is not None  # regular file, checked above
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as fh:
        while block := source.read(_READ_BYTES):
            digest.update(block)
            fh.write(block)
            size += len(block)
    if size != record.bytes or not hmac.compare_digest(digest.hexdigest(), record.sha256):
        raise IntegrityError(f"archive member {name} does not match its manifest checksum")
    return target


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise IntegrityError(f"unsafe archive member name {name!r}")
    return path.as_posix()
