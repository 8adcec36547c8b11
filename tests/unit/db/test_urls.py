"""db/urls.py reads URLs the way libpq does: a password in the user info, in ?password= or in a
key=value string is found, masked, moved to a 0600 pgpass file or refused (issue #18 item 4)."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo

from bullpen.db import urls

LEAKY = [
    ("postgresql://u:s3cret@db.example:5433/bullpen", "s3cret"),
    ("postgresql://u@db.example/bullpen?password=s3cret&sslmode=require", "s3cret"),
    ("postgresql+psycopg://u@/bullpen?host=/run/pg&password=s3cret", "s3cret"),
    ("postgresql://u:first@h/db?password=s3cret", "s3cret"),  # libpq: the query wins
    ("host=/run/pg dbname=bullpen user=u password=s3cret", "s3cret"),
    ("postgresql://u@h/db?password=p%40ss%2Fw%3Ard", "p@ss/w:rd"),
]


@pytest.mark.parametrize(("url", "secret"), LEAKY)
def test_password_found_as_libpq_finds_it(url: str, secret: str) -> None:
    assert urls.password(url) == secret


@pytest.mark.parametrize(("url", "secret"), LEAKY)
def test_redact_hides_every_form(url: str, secret: str) -> None:
    shown = urls.redact(url)
    assert secret not in shown and "s3cret" not in shown
    assert urls.MASK in shown
    # The rest of the URL survives: libpq reads the same target.
    kept = urls.parts(shown)
    original = urls.parts(url)
    for key in ("host", "dbname", "user", "port"):
        assert kept.get(key) == original.get(key)


def test_urls_without_password_pass_unchanged() -> None:
    for url in ("postgresql://u@/bullpen?host=/run/pg&passfile=/x/pgpass", "sqlite:///x.db"):
        assert urls.password(url) is None
        assert urls.redact(url) == url
        assert urls.refuse_password(url, "it") == url


def test_refuse_names_the_fix_without_the_secret() -> None:
    with pytest.raises(urls.SecretInUrlError) as err:
        urls.refuse_password("postgresql://u@h/db?password=s3cret", "BULLPEN_DATABASE_URL")
    assert "s3cret" not in str(err.value)
    assert "BULLPEN_DATABASE_URL" in str(err.value) and "pgpass" in str(err.value)


@pytest.mark.parametrize(("url", "secret"), LEAKY)
def test_without_password_moves_it_to_a_private_passfile(
    url: str, secret: str, tmp_path: Path
) -> None:
    moved = urls.without_password(url, tmp_path / "creds")
    assert secret not in moved and urls.password(moved) is None
    passfile = Path(urls.parts(moved)["passfile"])
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(passfile.parent.stat().st_mode) == 0o700
    line = passfile.read_text().strip()
    assert line.endswith(secret.replace(":", "\\:"))
    # Same target, and rerunning reuses the same file.
    for key in ("host", "dbname", "user"):
        assert urls.parts(moved).get(key) == urls.parts(url).get(key)
    assert urls.without_password(url, tmp_path / "creds") == moved


def test_moved_password_url_is_accepted_by_libpq(tmp_path: Path) -> None:
    """libpq parses the rewritten URL: a connection attempt to a closed port fails on the
    connection, not on a parse error, and never echoes the password. That the passfile then
    authenticates against a real server is tested in tests/integration/test_stack_auth.py
    (test_password_in_url_reaches_no_block_log_or_ps)."""
    moved = urls.without_password("postgresql://u:s3cret@127.0.0.1:1/db", tmp_path)
    conninfo.conninfo_to_dict(moved)
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(moved, connect_timeout=2)
    assert "s3cret" not in str(err.value)


def test_url_helpers() -> None:
    url = "postgresql://u@/bullpen?host=/run/pg&passfile=/x"
    assert urls.with_database(url, "mlflow") == "postgresql://u@/mlflow?host=/run/pg&passfile=/x"
    assert urls.sqlalchemy_url(url).startswith("postgresql+psycopg://u@/bullpen?")
    assert urls.libpq_url(urls.sqlalchemy_url(url)) == url
    assert urls.socket_dir(url) == "/run/pg"
    assert urls.socket_dir("postgresql://u@db.example/bullpen") is None
