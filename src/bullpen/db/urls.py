"""Database URLs, read the way libpq reads them (one module for every URL bullpen handles).

libpq takes a password from three places in a URL: the user info (`user:pw@`), the query
(`?password=`) and, in a key=value string, `password=`. `urllib.parse` only sees the first, so a
`?password=` passed every redaction and was stored in a Prefect block (issue #18). Everything here
parses with psycopg's conninfo functions (libpq's own parser) before a URL is stored, logged or
passed on: `redact` for what is shown, `without_password` to move a password into a 0600 pgpass
file, `refuse_password` where no password may appear at all.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlparse, urlunparse

from psycopg import conninfo

MASK = "***"
_URL_SCHEMES = ("postgresql", "postgres")


class SecretInUrlError(ValueError):
    """A database URL carries a password where none may be; the message says why and what to do."""


def _is_url(url: str) -> bool:
    return "://" in url


def _scheme_base(url: str) -> str:
    return urlparse(url).scheme.split("+", 1)[0]


def parts(url: str) -> dict[str, str]:
    """libpq's reading of `url` (a postgresql[+driver]:// URL or a key=value string)."""
    if _is_url(url) and _scheme_base(url) in _URL_SCHEMES:
        url = urlparse(url)._replace(scheme="postgresql").geturl()
    return {k: str(v) for k, v in conninfo.conninfo_to_dict(url).items() if v is not None}


def password(url: str) -> str | None:
    """The password libpq would use from the URL itself (user info or ?password=), if any."""
    if _is_url(url) and _scheme_base(url) not in _URL_SCHEMES:
        return urlparse(url).password
    return parts(url).get("password")


def _replace_password(url: str, new: str | None) -> str:
    """`url` with its password (user info and every ?password=) set to `new` or removed."""
    if not _is_url(url):
        info = parts(url)
        info.pop("password", None)
        return conninfo.make_conninfo(**info, **({"password": new} if new else {}))
    parsed = urlparse(url)
    netloc = parsed.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}{':' + new if new and ':' in userinfo else ''}@{host}"
    query = [
        (k, new if k == "password" else v)
        for k, v in parse_qsl(parsed.query, keep_blank_values=True)
        if k != "password" or new
    ]
    encoded = urlencode(query, safe="/*", quote_via=quote)
    return urlunparse(parsed._replace(netloc=netloc, query=encoded))


def redact(url: str) -> str:
    """`url` with any password (user info, ?password=, password=) shown as ***."""
    try:
        if password(url) is None:
            return url
    except conninfo.ProgrammingError:  # not parseable: show nothing of it
        return "<unparseable database URL>"
    return _replace_password(url, MASK)


def refuse_password(url: str, what: str) -> str:
    """`url` unchanged if it holds no password; else SecretInUrlError naming `what` and the fix."""
    if password(url) is not None:
        raise SecretInUrlError(
            f"{what} carries a password ({redact(url)}): a URL is stored in Prefect blocks and "
            "flow parameters, written to logs and shown by `ps`. Put the password in a pgpass "
            "file (PGPASSFILE, or ?passfile=<path> in the URL) or PGPASSWORD, and remove it from "
            "the URL"
        )
    return url


def without_password(url: str, pass_dir: Path) -> str:
    """`url` with its password moved to a 0600 pgpass file under `pass_dir` (named by the URL's
    target, so reruns reuse it) and the URL naming that file with ?passfile=; unchanged if it
    holds no password."""
    secret = password(url)
    if secret is None:
        return url
    info = parts(url)
    fields = [info.get(k, "*") or "*" for k in ("host", "port", "dbname", "user")]
    fields[2] = "*"  # the same login for every database on that server (with_database)
    esc = [f.replace("\\", "\\\\").replace(":", "\\:") for f in [*fields, secret]]
    tag = hashlib.sha256(":".join(fields).encode()).hexdigest()[:12]
    pass_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = pass_dir / f"pgpass-{tag}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(":".join(esc) + "\n")
    os.chmod(path, 0o600)  # an older file may have been created wider
    stripped = _replace_password(url, None)
    if not _is_url(stripped):
        return conninfo.make_conninfo(stripped, passfile=str(path))
    parsed = urlparse(stripped)
    query = [(k, v) for k, v in parse_qsl(parsed.query) if k != "passfile"]
    query.append(("passfile", str(path)))
    return urlunparse(parsed._replace(query=urlencode(query, safe="/", quote_via=quote)))


def with_database(url: str, name: str) -> str:
    """`url` with its database name replaced (socket URLs with ?host=... included)."""
    return urlparse(url)._replace(path=f"/{name}").geturl()


def sqlalchemy_url(url: str) -> str:
    """libpq URL -> SQLAlchemy URL using the psycopg 3 driver (MLflow, Optuna, Prefect blocks)."""
    return urlparse(url)._replace(scheme="postgresql+psycopg").geturl()


def libpq_url(url: str) -> str:
    """SQLAlchemy URL (`postgresql+psycopg://`) -> libpq URL (`postgresql://`)."""
    return urlparse(url)._replace(scheme="postgresql").geturl()


def socket_dir(url: str) -> str | None:
    """The Unix socket directory libpq would connect through, if the URL names one."""
    host = parts(url).get("host")
    return host if host and host.startswith("/") else None
