"""The durable spool of voicemail e-mail jobs: one JSON file per recorded message.

Layout under ``spool_dir`` (``CALLFLOW_SPOOL_DIR``)::

    tmp/       files being written; never a job (leftovers older than an hour are removed)
    pending/   <id>.json   jobs to deliver; the sender picks them up, also after a restart
    failed/    <id>.json   jobs that aged out; ``callflow voicemail retry`` requeues them
    sender.json            the sender's last connection error (for ``status``; not durable)

Guarantees:
- ``enqueue`` returns only once the job is durable: written to ``tmp/``, fsync'ed,
  linked into ``pending/`` (``link``, unlike ``rename``, never replaces an existing job)
  and ``pending/`` fsync'ed (the WAV and its folder are fsync'ed
  too, best effort: FreeSWITCH does not). A crash leaves either no job or a whole one.
- Every later change (reschedule, fail, retry) is the same write-fsync-rename, so a job
  file is always complete. A job leaves ``pending/`` only by ``complete`` (the SMTP
  server accepted it) or ``fail`` (written to ``failed/`` before it is unlinked from
  ``pending/``; a crash in between leaves it in both, and it is simply tried again).
- ``claim`` takes an exclusive ``flock`` on the job file, so engines on the same host may
  share a spool without sending a job twice at the same moment; the kernel drops the
  lock if the process dies. (flock over NFS is not reliable: give each host its own spool.)
- Delivery is at-least-once: a crash after the server's ``250`` and before ``complete``
  unlinks the file sends that message again at the next start. That window is one
  ``unlink`` long; the e-mail keeps its ``Message-ID``, so clients can de-duplicate.

Job file (``version`` 1): ``id``, ``message`` (``VoicemailMessage.to_json()``), ``to`` (the
recipients still owed the message), ``delivered_to``, ``created`` and ``age_from``
(epoch s; a retry restarts ``age_from``), ``attempts``, ``next_attempt``, ``last_error``,
``failed_at``, ``requeues``.

All writes that fsync go through ``offload`` (the engine passes gevent's thread pool, so
an fsync blocks the calling greenlet but not the hub).
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from rules.errors import SpoolError

log = logging.getLogger("callflow.mailer.spool")

JOB_VERSION = 1
PENDING, FAILED = "pending", "failed"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
TMP_MAX_AGE_SECONDS = 3600


@dataclass
class Job:
    id: str
    message: dict
    to: list[str]
    created: float
    age_from: float
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str | None = None
    delivered_to: list[str] = field(default_factory=list)
    failed_at: float | None = None
    requeues: int = 0
    version: int = JOB_VERSION

    @property
    def uuid(self) -> str:
        return str(self.message.get("uuid", ""))

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Job":
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("version") != JOB_VERSION:
            raise ValueError(f"unsupported job version {raw.get('version') if isinstance(raw, dict) else None}")
        known = {f for f in cls.__dataclass_fields__}
        job = cls(**{k: v for k, v in raw.items() if k in known})
        if not _ID.fullmatch(job.id) or not isinstance(job.message, dict) or not job.to:
            raise ValueError("job without a valid id, message or recipients")
        return job


class Claim:
    """An exclusively locked pending job; release() (or complete/fail) unlocks it."""

    def __init__(self, path: Path, fd: int, job: Job):
        self.path, self.fd, self.job = path, fd, job

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)           # closing drops the flock
            self.fd = -1

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class Spool:
    def __init__(self, root: Path | str, offload: Callable[[Callable], object] | None = None):
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.dirs = {PENDING: self.root / PENDING, FAILED: self.root / FAILED}
        self._offload = offload or (lambda fn: fn())
        # name -> ((inode, mtime_ns, size), Job): a scan re-reads only changed files.
        self._cache: dict[str, tuple[tuple, Job]] = {}
        self._unreadable: set[tuple] = set()

    # -- set-up ---------------------------------------------------------------------
    def open(self) -> "Spool":
        """Create the folders (refusing a spool that cannot be written) and clear stale
        tmp files. Raises SpoolError."""
        try:
            for d in (self.tmp_dir, *self.dirs.values()):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.tmp_dir / f".probe-{os.getpid()}-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
            _fsync_dir(self.root)
        except OSError as exc:
            raise SpoolError(f"voicemail spool {self.root} is not writable: {exc}") from exc
        cutoff = time.time() - TMP_MAX_AGE_SECONDS
        for leftover in self.tmp_dir.iterdir():
            try:
                # Recent files may belong to another process writing right now.
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
            except OSError:
                pass
        return self

    @property
    def exists(self) -> bool:
        return self.dirs[PENDING].is_dir()

    # -- writing ----------------------------------------------------------------------
    def enqueue(self, message, now: float | None = None) -> Job:
        """Make one voicemail durable as a pending job (see the module's guarantees)."""
        now = time.time() if now is None else now
        data = message.to_json() if hasattr(message, "to_json") else dict(message)
        to = [str(a) for a in data.get("email") or ()]
        if not to:
            raise SpoolError("voicemail without recipients")
        job = Job(id=self._new_id(data.get("uuid")), message=data, to=to, created=now,
                  age_from=now, next_attempt=now)

        def write():
            _fsync_file(data.get("path"))
            while True:
                try:
                    return self._write(PENDING, job, exclusive=True)
                except FileExistsError:
                    # The same uuid spooled twice at the same moment: never overwrite.
                    job.id = self._new_id(None)
        self._offload(write)
        return job

    def reschedule(self, claim: Claim, job: Job) -> None:
        """Write the job's new state back to pending/ (attempts, next_attempt, to...)."""
        self._offload(lambda: self._write(PENDING, job))

    def complete(self, claim: Claim) -> None:
        """The server accepted the message: the job is done."""
        try:
            self._offload(lambda: _unlink_durably(claim.path))
        finally:
            claim.release()

    def fail(self, claim: Claim, job: Job, now: float | None = None) -> None:
        """Move a job that aged out to failed/ (failed/ first, then unlink from pending/)."""
        job.failed_at = time.time() if now is None else now

        def move():
            self._write(FAILED, job)
            _unlink_durably(claim.path)
        try:
            self._offload(move)
        finally:
            claim.release()

    def retry(self, ids: Iterable[str] | None = None, now: float | None = None) -> list[str]:
        """Requeue failed jobs (all when ``ids`` is None) with a fresh age; returns the
        ids requeued. Raises SpoolError for an id that is not in failed/."""
        now = time.time() if now is None else now
        failed_dir = self.dirs[FAILED]
        if ids is None:
            names = sorted(p.stem for p in failed_dir.glob("*.json"))
        else:
            names = list(ids)
            for name in names:
                if not _ID.fullmatch(name) or not (failed_dir / f"{name}.json").exists():
                    raise SpoolError(f"no failed job {name!r} in {failed_dir}")
        done = []
        for name in names:
            path = failed_dir / f"{name}.json"
            job = self._read(path)
            job.attempts, job.next_attempt, job.age_from = 0, now, now
            job.failed_at = None
            job.requeues += 1

            def move(job=job, path=path):
                self._write(PENDING, job)
                path.unlink()
                _fsync_dir(failed_dir)
            self._offload(move)
            done.append(name)
        return done

    # -- reading ----------------------------------------------------------------------
    def jobs(self, state: str = PENDING) -> list[Job]:
        """The jobs in pending/ or failed/, oldest first. Unreadable files are logged
        (once per version of the file) and skipped; ``unreadable()`` lists them."""
        folder = self.dirs[state]
        out = []
        seen = set()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            if not entry.name.endswith(".json"):
                continue
            key = f"{state}/{entry.name}"
            seen.add(key)
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_ino, st.st_mtime_ns, st.st_size)
            cached = self._cache.get(key)
            if cached is not None and cached[0] == sig:
                out.append(cached[1])
                continue
            try:
                job = self._read(Path(entry.path))
            except FileNotFoundError:
                continue
            except SpoolError as exc:
                if (key, sig) not in self._unreadable:
                    self._unreadable.add((key, sig))
                    log.error("unreadable voicemail e-mail job; left in place",
                              extra={"fields": {"file": entry.path, "error": str(exc)}})
                continue
            self._cache[key] = (sig, job)
            out.append(job)
        for key in [k for k in self._cache if k.startswith(state + "/") and k not in seen]:
            del self._cache[key]
        out.sort(key=lambda j: (j.created, j.id))
        return out

    def unreadable(self, state: str = PENDING) -> list[str]:
        bad = []
        for path in sorted(self.dirs[state].glob("*.json")):
            try:
                self._read(path)
            except SpoolError:
                bad.append(path.name)
            except FileNotFoundError:
                pass
        return bad

    def claim(self, job_id: str) -> Claim | None:
        """Lock a pending job for delivery; None if it is gone or another sender has it."""
        path = self.dirs[PENDING] / f"{job_id}.json"
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Between open and lock the file may have been completed or rewritten (a
            # rename installs a new inode): only the file still at the path counts.
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                os.close(fd)
                return None
            job = Job.from_bytes(_read_fd(fd))
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        except (ValueError, TypeError, OSError) as exc:
            os.close(fd)
            raise SpoolError(f"{path}: unreadable job: {exc}") from exc
        return Claim(path, fd, job)

    # -- sender state (informational) -----------------------------------------------
    def write_state(self, state: dict) -> None:
        tmp = self.tmp_dir / f"sender.{os.getpid()}.json"
        try:
            tmp.write_text(json.dumps(state, ensure_ascii=False))
            os.replace(tmp, self.root / "sender.json")
        except OSError:
            log.warning("could not write the sender's state file", exc_info=True)

    def read_state(self) -> dict | None:
        try:
            return json.loads((self.root / "sender.json").read_text())
        except (OSError, ValueError):
            return None

    # -- internals --------------------------------------------------------------------
    def _new_id(self, uuid) -> str:
        base = uuid if isinstance(uuid, str) and _ID.fullmatch(uuid) and len(uuid) <= 80 \
            else secrets.token_hex(16)
        name = base
        while any((d / f"{name}.json").exists() for d in self.dirs.values()):
            name = f"{base}-{secrets.token_hex(3)}"
        return name

    def _write(self, state: str, job: Job, exclusive: bool = False) -> None:
        folder = self.dirs[state]
        tmp = self.tmp_dir / f"{job.id}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            data = job.to_bytes()
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        final = folder / f"{job.id}.json"
        if exclusive:
            # link() fails if the name exists, where rename() would replace that job.
            try:
                os.link(tmp, final)
            finally:
                tmp.unlink()
        else:
            os.rename(tmp, final)
        _fsync_dir(folder)

    @staticmethod
    def _read(path: Path) -> Job:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise SpoolError(f"{path}: {exc}") from exc
        try:
            return Job.from_bytes(data)
        except (ValueError, TypeError) as exc:
            raise SpoolError(f"{path}: unreadable job: {exc}") from exc


def _read_fd(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _unlink_durably(path: Path) -> None:
    """Remove a job file (already gone is fine) and make the removal survive a crash."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path) -> None:
    """FreeSWITCH closes the WAV without fsync; a job naming a file that a power cut
    then truncates would be a lost voicemail. Best effort: the job matters more."""
    if not path:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(Path(path).parent)
    except OSError as exc:
        log.warning("could not fsync the voicemail file", extra={"fields": {
            "path": str(path), "error": str(exc)}})
