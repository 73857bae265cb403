"""The results store: a directory with ``results.db`` (SQLite, WAL), checkpoints and reports.

One row per run, keyed by a hash of (config, seed, phase). A process *claims* a run inside a
``BEGIN IMMEDIATE`` transaction before training it, so two ``rnnlab compare`` processes on
the same store never train the same run twice and never lose a row.

A claimed run is a lease: while it trains, its owner refreshes the row's ``heartbeat_at``
every :data:`HEARTBEAT_SECONDS` (:meth:`Store.heartbeat`). A ``running`` row whose heartbeat
is older than :data:`LEASE_SECONDS` belongs to a process that is gone (killed, crashed, on
another host sharing the store, or whose pid was reused) and is claimed again and resumed from
its checkpoint directory; an owner on this host whose pid no longer exists is taken over at
once. Stores of schema 1 (no heartbeat column) are migrated when opened.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab.errors import UserInputError

SCHEMA_VERSION = 2  # 2: runs.heartbeat_at (the lease)
HEARTBEAT_SECONDS = 15.0
"""How often a running owner refreshes its lease."""
LEASE_SECONDS = 120.0
"""A running row whose heartbeat is older than this is taken over (eight missed heartbeats)."""
STORE_FORMAT = "rnnlab-results"
DB_NAME = "results.db"
CHECKPOINTS = "checkpoints"
FINISHED = ("done", "diverged", "failed")
STATUSES = ("running", *FINISHED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'diverged', 'failed')),
    phase TEXT NOT NULL,
    seed INTEGER NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    config TEXT NOT NULL,
    versions TEXT,
    metrics TEXT,
    curves TEXT,
    cost TEXT,
    error TEXT,
    owner TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    heartbeat_at REAL
);
CREATE INDEX IF NOT EXISTS runs_task_model ON runs (task, model, phase);
"""


@dataclass(frozen=True)
class RunRow:
    """One stored run, with its JSON columns decoded."""

    id: int
    key: str
    status: str
    phase: str
    seed: int
    task: str
    model: str
    config: dict[str, Any]
    versions: dict[str, Any]
    metrics: dict[str, Any]
    curves: dict[str, Any]
    cost: dict[str, Any]
    error: str | None
    owner: str | None
    attempts: int
    created_at: float
    started_at: float
    finished_at: float | None
    heartbeat_at: float | None


def baseline_key(task: str, task_options: dict[str, Any]) -> str:
    """Key of the baselines of one task setup in the ``meta`` table."""
    return "baselines:" + json.dumps([task, task_options], sort_keys=True)


def process_owner() -> str:
    """The identity written into claimed rows: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_gone(owner: str | None) -> bool:
    """Whether ``owner`` is provably gone: none, or a pid on this host that no longer exists.

    Only a shortcut: a live pid may be another process (pids are reused) and an owner on
    another host cannot be asked, so otherwise the heartbeat decides (see the module doc).
    """
    if not owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def runs_going(root: str | os.PathLike[str]) -> list[tuple[str, str, int]]:
    """``(task, model, seed)`` of the runs training now in the store at ``root``: ``running``
    rows whose lease is fresh, oldest claim first; ``[]`` when there is no store yet.

    Opens its own read-only connection, so any thread (a progress bar's) may call it, and
    sees the runs of every process working on the store, worker processes included.
    """
    path = Path(root) / DB_NAME
    if not path.is_file():
        return []
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)) as db:
            rows = db.execute(
                "SELECT task, model, seed FROM runs WHERE status = 'running' "
                "AND heartbeat_at > ? ORDER BY started_at",
                (time.time() - LEASE_SECONDS,),
            ).fetchall()
    except sqlite3.Error:  # locked or being created: nothing to show this time
        return []
    return [(task, model, int(seed)) for task, model, seed in rows]


def _ours(name: str) -> bool:
    # entries a store being created concurrently by another process may already hold
    return name in (DB_NAME, CHECKPOINTS) or name.startswith(f".{DB_NAME}.")


def _loads(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


class Store:
    """A results directory. Use :meth:`open`; the connection is per process."""

    def __init__(self, root: Path, connection: sqlite3.Connection) -> None:
        self.root = root
        self._db = connection

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | os.PathLike[str], *, create: bool = True) -> Store:
        """Open (and with ``create``, initialise) the store at ``root``.

        Raises :class:`UserInputError` for a directory that holds other files but no
        ``results.db``, a database that is not an rnnlab store, a corrupt file, or a schema
        newer than this version of rnnlab — without writing anything.
        """
        root = Path(root)
        db_path = root / DB_NAME
        if root.exists() and not root.is_dir():
            raise UserInputError(f"store {root} is a file, expected a directory")
        if not db_path.exists():
            if not create:
                raise UserInputError(f"{root} is not an rnnlab store (no {DB_NAME})")
            if root.exists() and any(not _ours(entry.name) for entry in root.iterdir()):
                raise UserInputError(
                    f"{root} is not an rnnlab store: it holds other files but no {DB_NAME}; "
                    "choose an empty or new directory with --store"
                )
            root.mkdir(parents=True, exist_ok=True)
            cls._create(db_path)
        connection = cls._connect(db_path)
        cls._check(connection, db_path)
        cls._enable_wal(connection, db_path)
        cls._migrate(connection)
        (root / CHECKPOINTS).mkdir(exist_ok=True)
        return cls(root, connection)

    @classmethod
    def check(cls, root: str | os.PathLike[str]) -> None:
        """Raise :class:`UserInputError` if ``root`` exists but is not a usable store; create
        nothing (a missing or empty directory passes: :meth:`open` will create the store)."""
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise UserInputError(
                f"{root} is a file, not a directory; --store takes a directory (new or empty "
                "for a new store)"
            )
        if (root / DB_NAME).exists():
            cls.open(root, create=False).close()
        elif root.exists() and (
            not root.is_dir() or any(not _ours(entry.name) for entry in root.iterdir())
        ):
            raise UserInputError(
                f"{root} is not an rnnlab store: it holds other files but no {DB_NAME}; "
                "choose an empty or new directory with --store"
            )

    @classmethod
    def _create(cls, db_path: Path) -> None:
        # Build the schema in a private file, then link it into place: a concurrent process
        # either wins the link or finds a complete store, never a half-made one.
        tmp = db_path.with_name(f".{DB_NAME}.{os.getpid()}.tmp")
        connection = cls._connect(tmp)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("format", STORE_FORMAT), ("schema_version", str(SCHEMA_VERSION))],
        )
        connection.close()
        try:
            os.link(tmp, db_path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()

    @staticmethod
    def _connect(db_path: Path) -> sqlite3.Connection:
        connection = sqlite3.connect(db_path, timeout=60.0, isolation_level=None)
        connection.execute("PRAGMA busy_timeout=60000")
        return connection

    @staticmethod
    def _enable_wal(connection: sqlite3.Connection, db_path: Path) -> None:
        # Only after _check: switching a foreign file to WAL would write to it.
        try:
            connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as err:
            connection.close()
            raise UserInputError(f"{db_path} is not a readable rnnlab store: {err}") from err

    @staticmethod
    def _check(connection: sqlite3.Connection, db_path: Path) -> None:
        try:
            meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            connection.execute("SELECT id FROM runs LIMIT 1").fetchall()
        except sqlite3.DatabaseError as err:
            connection.close()
            raise UserInputError(f"{db_path} is not an rnnlab store ({err})") from err
        if meta.get("format") != STORE_FORMAT:
            connection.close()
            raise UserInputError(
                f"{db_path} is not an rnnlab store (format {meta.get('format')!r})"
            )
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            connection.close()
            raise UserInputError(
                f"{db_path} has store schema {version}; this rnnlab reads up to "
                f"{SCHEMA_VERSION} — upgrade rnnlab"
            )

    @staticmethod
    def _migrate(connection: sqlite3.Connection) -> None:
        # Schema 1 -> 2: the heartbeat column. Inside one write transaction, so two processes
        # opening an old store at once migrate it once.
        connection.execute("BEGIN IMMEDIATE")
        try:
            columns = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
            if "heartbeat_at" not in columns:
                connection.execute("ALTER TABLE runs ADD COLUMN heartbeat_at REAL")
            connection.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the store."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    def checkpoint_dir(self, key: str) -> Path:
        """The checkpoint directory of one run (created on demand by the trainer)."""
        return self.root / CHECKPOINTS / key

    # -- claiming and finishing ---------------------------------------------------------------
    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def claim(
        self,
        key: str,
        *,
        phase: str,
        seed: int,
        task: str,
        model: str,
        config: dict[str, Any],
        retry_failed: bool = False,
    ) -> str:
        """Try to take the run ``key`` for this process.

        Returns ``"new"`` (a fresh row was inserted), ``"resume"`` (an unfinished row whose
        lease expired or whose owner is gone, or a failed row with ``retry_failed``, was taken
        over), ``"finished"`` (nothing to do) or ``"busy"`` (another owner's lease is fresh).
        The caller keeps the lease with :meth:`heartbeat` while it runs.
        """
        me, now = process_owner(), time.time()
        with self._immediate() as db:
            row = db.execute(
                "SELECT status, owner, COALESCE(heartbeat_at, started_at) FROM runs WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO runs (key, status, phase, seed, task, model, config, owner, "
                    "created_at, started_at, heartbeat_at) "
                    "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        phase,
                        seed,
                        task,
                        model,
                        json.dumps(config, sort_keys=True),
                        me,
                        now,
                        now,
                        now,
                    ),
                )
                return "new"
            status, owner, heartbeat = row
            if status == "failed" and retry_failed:
                pass
            elif status in FINISHED:
                return "finished"
            elif owner != me and now - heartbeat < LEASE_SECONDS and not owner_gone(owner):
                return "busy"
            db.execute(
                "UPDATE runs SET status = 'running', owner = ?, attempts = attempts + 1, "
                "started_at = ?, heartbeat_at = ?, error = NULL WHERE key = ?",
                (me, now, now, key),
            )
            return "resume"

    def touch(self, keys: Sequence[str]) -> None:
        """Refresh this process's lease on the running rows ``keys`` at once (a driver that
        holds many runs, such as the Ray executor's, instead of a :meth:`heartbeat` each)."""
        with self._immediate() as db:
            db.executemany(
                "UPDATE runs SET heartbeat_at = ? "
                "WHERE key = ? AND owner = ? AND status = 'running'",
                [(time.time(), key, process_owner()) for key in keys],
            )

    @contextmanager
    def heartbeat(self, key: str, every: float | None = None) -> Iterator[None]:
        """Keep this process's lease on the run ``key`` while the block runs.

        A daemon thread with its own connection stamps ``heartbeat_at`` every ``every``
        seconds (default :data:`HEARTBEAT_SECONDS`; only while this process owns the row and
        it is running); it stops with the block, and with the process, so a killed owner's
        lease simply runs out.
        """
        every = HEARTBEAT_SECONDS if every is None else every
        stop = threading.Event()
        me = process_owner()

        def beat() -> None:
            connection = self._connect(self.root / DB_NAME)
            try:
                while not stop.wait(every):
                    connection.execute(
                        "UPDATE runs SET heartbeat_at = ? "
                        "WHERE key = ? AND owner = ? AND status = 'running'",
                        (time.time(), key, me),
                    )
            except sqlite3.Error:
                pass  # the store went away: the run carries on, its lease runs out
            finally:
                connection.close()

        thread = threading.Thread(target=beat, name=f"rnnlab-heartbeat-{key[:8]}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def finish(
        self,
        key: str,
        *,
        status: str,
        metrics: dict[str, Any] | None = None,
        curves: dict[str, Any] | None = None,
        cost: dict[str, Any] | None = None,
        versions: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record the outcome of a run this process claimed."""
        if status not in FINISHED:
            raise ValueError(f"status must be one of {FINISHED}, got {status!r}")
        with self._immediate() as db:
            db.execute(
                "UPDATE runs SET status = ?, metrics = ?, curves = ?, cost = ?, versions = ?, "
                "error = ?, finished_at = ? WHERE key = ?",
                (
                    status,
                    json.dumps(metrics or {}, sort_keys=True, allow_nan=True),
                    json.dumps(curves or {}, sort_keys=True, allow_nan=True),
                    json.dumps(cost or {}, sort_keys=True, allow_nan=True),
                    json.dumps(versions or {}, sort_keys=True),
                    error,
                    time.time(),
                    key,
                ),
            )

    def put_baselines(
        self, task: str, task_options: dict[str, Any], baselines: dict[str, dict[str, float]]
    ) -> None:
        """Store the test metrics of non-neural baselines (``{name: {"test_mse": ...}}``) for
        the comparisons of ``task`` with ``task_options``; they enter no statistics."""
        with self._immediate() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (baseline_key(task, task_options), json.dumps(baselines, sort_keys=True)),
            )

    def baselines(self, task: str, task_options: dict[str, Any]) -> dict[str, dict[str, float]]:
        """What :meth:`put_baselines` stored for ``task`` and ``task_options`` (or ``{}``)."""
        row = self._db.execute(
            "SELECT value FROM meta WHERE key = ?", (baseline_key(task, task_options),)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    # -- reading -----------------------------------------------------------------------------
    def get(self, key: str) -> RunRow | None:
        """The row of run ``key``, or None."""
        rows = self._select("WHERE key = ?", (key,))
        return rows[0] if rows else None

    def rows(self, *, phase: str | None = None, status: str | None = None) -> list[RunRow]:
        """All rows (optionally of one phase and/or status), in insertion order."""
        clauses, params = [], []
        if phase is not None:
            clauses.append("phase = ?")
            params.append(phase)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._select(where, tuple(params))

    def _select(self, where: str, params: tuple[Any, ...]) -> list[RunRow]:
        cursor = self._db.execute(
            "SELECT id, key, status, phase, seed, task, model, config, versions, metrics, curves, "
            "cost, error, owner, attempts, created_at, started_at, finished_at, heartbeat_at "
            f"FROM runs {where} "
            "ORDER BY id",
            params,
        )
        return [
            RunRow(
                id=r[0],
                key=r[1],
                status=r[2],
                phase=r[3],
                seed=r[4],
                task=r[5],
                model=r[6],
                config=_loads(r[7]),
                versions=_loads(r[8]),
                metrics=_loads(r[9]),
                curves=_loads(r[10]),
                cost=_loads(r[11]),
                error=r[12],
                owner=r[13],
                attempts=r[14],
                created_at=r[15],
                started_at=r[16],
                finished_at=r[17],
                heartbeat_at=r[18],
            )
            for r in cursor.fetchall()
        ]
