"""Archive format: keys, chunked AES-GCM, checksums; every kind of damage is refused."""

from __future__ import annotations

import base64
import os
import pickle
from pathlib import Path

import pytest

from bullpen.backup import archive
from bullpen.backup.errors import AuthenticityError, IntegrityError, KeyFormatError

AAD = b"20261123T093000Z-nightly-abcdef"


@pytest.fixture
def key() -> archive.BackupKey:
    return archive.BackupKey.parse(archive.generate_key())


@pytest.fixture
def sources(tmp_path: Path) -> list[archive.Member]:
    src = tmp_path / "src"
    src.mkdir()
    # Incompressible data over two AES-GCM chunks, an exact chunk multiple, and an empty file.
    (src / "big.bin").write_bytes(os.urandom(archive.CHUNK_BYTES * 2 + 123))
    (src / "exact.bin").write_bytes(os.urandom(archive.CHUNK_BYTES))
    (src / "empty.txt").write_bytes(b"")
    (src / "note.txt").write_text("champion v3\n")
    return [archive.Member(f"files/{p.name}", p) for p in sorted(src.iterdir())]


def _pack(tmp_path: Path, members: list[archive.Member], key: bytes) -> archive.Packed:
    return archive.write_archive(tmp_path / "payload.enc", members, key, AAD)


@pytest.mark.parametrize(
    "encode",
    [
        lambda raw: base64.urlsafe_b64encode(raw).decode(),
        lambda raw: base64.b64encode(raw).decode(),
        lambda raw: raw.hex(),
        lambda raw: f"  {base64.b64encode(raw).decode()}\n",
    ],
)
def test_backup_key_parse_accepts_base64_and_hex(encode: object) -> None:
    raw = os.urandom(32)
    assert archive.BackupKey.parse(encode(raw)).key_id() == archive.BackupKey(raw).key_id()  # type: ignore[operator]


@pytest.mark.parametrize(
    "text",
    ["correct horse battery staple", base64.b64encode(os.urandom(16)).decode(), "", "zz" * 32],
)
def test_backup_key_parse_refuses_passphrases_and_short_keys(text: str) -> None:
    with pytest.raises(KeyFormatError, match="32 random bytes"):
        archive.BackupKey.parse(text)


def test_backup_key_never_shows_its_secret(key: archive.BackupKey) -> None:
    secret = key._secret  # noqa: SLF001 - the point is to look for it
    for text in (repr(key), str(key), f"{key}"):
        assert secret.hex() not in text and base64.b64encode(secret).decode() not in text
        assert key.key_id() in text
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_derive_gives_distinct_keys_per_salt_and_purpose(key: archive.BackupKey) -> None:
    salt_a, salt_b = archive.new_salt(), archive.new_salt()
    derived = {
        key.derive(salt_a, "payload"),
        key.derive(salt_b, "payload"),
        key.derive(salt_a, "manifest"),
    }
    assert len(derived) == 3 and all(len(d) == 32 for d in derived)


def test_write_then_extract_round_trips_every_member(
    tmp_path: Path, key: archive.BackupKey, sources: list[archive.Member]
) -> None:
    subkey = key.derive(b"s" * 16, "payload")
    packed = _pack(tmp_path, sources, subkey)

    assert packed.sha256 == archive.sha256_file(packed.path)
    assert packed.bytes == packed.path.stat().st_size
    assert packed.plain_bytes == sum(m.source.stat().st_size for m in sources)
    archive.check_payload(packed.path, packed.bytes, packed.sha256)
    out = archive.extract_archive(packed.path, subkey, AAD, packed.members, tmp_path / "out")

    assert len(out) == len(sources)
    for member in sources:
        assert (tmp_path / "out" / member.name).read_bytes() == member.source.read_bytes()


def test_archive_is_compressed_and_hides_plaintext(tmp_path: Path, key: archive.BackupKey) -> None:
    text = tmp_path / "rows.csv"
    text.write_text("game_id,home_team,away_team\n" + "12345,NYY,BOS\n" * 50_000)
    packed = _pack(tmp_path, [archive.Member("rows.csv", text)], key.derive(b"", "payload"))

    assert packed.bytes < text.stat().st_size / 20
    assert b"NYY" not in packed.path.read_bytes()


@pytest.mark.parametrize("where", ["header", "first chunk", "a tag", "last byte"])
def test_one_flipped_byte_fails_checksum_and_authentication(
    tmp_path: Path, key: archive.BackupKey, sources: list[archive.Member], where: str
) -> None:
    subkey = key.derive(b"", "payload")
    packed = _pack(tmp_path, sources, subkey)
    data = bytearray(packed.path.read_bytes())
    offset = {
        "header": 3,
        "first chunk": len(archive.MAGIC) + 10,
        "a tag": len(archive.MAGIC) + archive.CHUNK_BYTES + 5,
        "last byte": len(data) - 1,
    }[where]
    data[offset] ^= 0x01
    packed.path.write_bytes(bytes(data))

    with pytest.raises(IntegrityError, match="SHA-256 mismatch"):
        archive.check_payload(packed.path, packed.bytes, packed.sha256)
    # Even with the checksum skipped (or forged), decryption refuses the altered bytes.
    with pytest.raises((AuthenticityError, IntegrityError)):
        archive.extract_archive(packed.path, subkey, AAD, packed.members, tmp_path / "out")


@pytest.mark.parametrize("keep_chunks", [0, 1, 2])
def test_truncated_payload_is_refused(
    tmp_path: Path, key: archive.BackupKey, sources: list[archive.Member], keep_chunks: int
) -> None:
    subkey = key.derive(b"", "payload")
    packed = _pack(tmp_path, sources, subkey)
    # Cut exactly at a chunk boundary: each remaining chunk still carries a valid tag.
    cut = len(archive.MAGIC) + keep_chunks * (archive.CHUNK_BYTES + archive.TAG_BYTES)
    packed.path.write_bytes(packed.path.read_bytes()[:cut])

    with pytest.raises(IntegrityError, match="truncated"):
        archive.check_payload(packed.path, packed.bytes, packed.sha256)
    with pytest.raises(AuthenticityError):
        archive.extract_archive(packed.path, subkey, AAD, packed.members, tmp_path / "out")


def test_wrong_key_or_other_backup_id_fails_authentication(
    tmp_path: Path, key: archive.BackupKey, sources: list[archive.Member]
) -> None:
    packed = _pack(tmp_path, sources, key.derive(b"", "payload"))
    other = archive.BackupKey.parse(archive.generate_key()).derive(b"", "payload")

    with pytest.raises(AuthenticityError, match="failed authentication"):
        archive.extract_archive(packed.path, other, AAD, packed.members, tmp_path / "a")
    with pytest.raises(AuthenticityError):
        archive.extract_archive(
            packed.path, key.derive(b"", "payload"), b"another-id", packed.members, tmp_path / "b"
        )


def test_member_not_matching_the_manifest_is_refused(
    tmp_path: Path, key: archive.BackupKey, sources: list[archive.Member]
) -> None:
    subkey = key.derive(b"", "payload")
    packed = _pack(tmp_path, sources, subkey)
    lying = [
        archive.PackedMember(m.name, m.bytes, "0" * 64) if m.name.endswith("note.txt") else m
        for m in packed.members
    ]
    with pytest.raises(IntegrityError, match="note.txt"):
        archive.extract_archive(packed.path, subkey, AAD, lying, tmp_path / "out")
    with pytest.raises(IntegrityError, match="not in the manifest"):
        archive.extract_archive(packed.path, subkey, AAD, packed.members[1:], tmp_path / "o2")
    extra = [*packed.members, archive.PackedMember("files/ghost.bin", 1, "0" * 64)]
    with pytest.raises(IntegrityError, match="ghost"):
        archive.extract_archive(packed.path, subkey, AAD, extra, tmp_path / "o3")


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside", "a/../../b"])
def test_unsafe_member_names_are_refused(tmp_path: Path, key: archive.BackupKey, name: str) -> None:
    src = tmp_path / "f"
    src.write_text("x")
    with pytest.raises(IntegrityError, match="unsafe"):
        _pack(tmp_path, [archive.Member(name, src)], key.derive(b"", "payload"))
