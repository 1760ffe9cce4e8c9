"""The async queue on Redis, for endpoints whose replicas span hosts: the same protocol as
:class:`serving._queue.SqliteQueue` (submit, claim under a lease, renew, fenced finish,
settle), each step one Lua script, so atomic on the server.

Why not Celery on this Redis: Celery's Redis transport hands a message to one worker and
redelivers it only after ``visibility_timeout`` (an hour by default). Set it short, and a long
request is delivered again while it still runs; set it long, and a dead replica's work waits
that long. Neither is renewable. A lease the working replica keeps renewing gives both: a
dead replica's request is taken up one lease after its last renewal (``MLCORE_ASYNC_LEASE_S``),
a long one is never taken from a live replica, and the attempt number fences whatever a
replica presumed dead still writes.

Durability is Redis's: run it with ``appendonly yes`` and ``appendfsync always`` (a write is
answered after it is on disk), as the tests do. Keys, under ``<prefix>`` (``mlcore:async:<endpoint>``):
``<prefix>:r:<id>`` a hash per request; ``:pending`` (id by submit time), ``:running`` (id by
lease deadline) and ``:unsettled`` (id by finish time) sorted sets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from serving._queue import FAILED, IN_PROGRESS, PENDING, QueueFull, Request, Taken

_FIELDS = tuple(Request.__dataclass_fields__)
_FLOATS = {"submitted", "expires", "started", "finished", "lease_until"}
_INTS = {"attempt", "notified"}

# KEYS[1] = prefix. Each script returns what its Python method needs.
_SUBMIT = """
local r = KEYS[1] .. ':r:' .. ARGV[1]
if redis.call('EXISTS', r) == 1 then return 'taken' end
local limit = tonumber(ARGV[10])
if limit >= 0 and redis.call('ZCARD', KEYS[1] .. ':pending') + redis.call('ZCARD', KEYS[1] .. ':running') >= limit then
  return 'full'
end
redis.call('HSET', r, 'id', ARGV[1], 'input', ARGV[2], 'content_type', ARGV[3], 'accept', ARGV[4],
  'output', ARGV[5], 'failure', ARGV[6], 'status', 'Pending', 'attempt', 0,
  'submitted', ARGV[7], 'expires', ARGV[8], 'notified', ARGV[9])
redis.call('ZADD', KEYS[1] .. ':pending', ARGV[7], ARGV[1])
return 'ok'
"""

_CLAIM = """
local now, lease, max_attempts = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local id = redis.call('ZRANGEBYSCORE', KEYS[1] .. ':running', '-inf', '(' .. now, 'LIMIT', 0, 1)[1]
if not id then id = redis.call('ZRANGE', KEYS[1] .. ':pending', 0, 0)[1] end
if not id then return false end
local r = KEYS[1] .. ':r:' .. id
local attempt = tonumber(redis.call('HGET', r, 'attempt'))
local reason = ''
if attempt >= max_attempts then
  reason = 'the replica processing it stopped ' .. attempt .. ' times before finishing (is the payload too large for the replica\\'s memory?)'
elseif tonumber(redis.call('HGET', r, 'expires')) < now then
  reason = 'it waited in the queue longer than its RequestTTLSeconds'
end
redis.call('HSET', r, 'status', 'InProgress', 'attempt', attempt + 1, 'owner', ARGV[1],
  'lease_until', now + lease, 'reason', reason)
if redis.call('HEXISTS', r, 'started') == 0 then redis.call('HSET', r, 'started', now) end
redis.call('ZREM', KEYS[1] .. ':pending', id)
redis.call('ZADD', KEYS[1] .. ':running', now + lease, id)
return id
"""

_RENEW = """
local kept = {}
for i = 2, #ARGV, 2 do
  local r = KEYS[1] .. ':r:' .. ARGV[i]
  if redis.call('HGET', r, 'status') == 'InProgress' and redis.call('HGET', r, 'attempt') == ARGV[i + 1] then
    redis.call('HSET', r, 'lease_until', ARGV[1])
    redis.call('ZADD', KEYS[1] .. ':running', ARGV[1], ARGV[i])
    table.insert(kept, ARGV[i])
  end
end
return kept
"""

_RELEASE = """
local r = KEYS[1] .. ':r:' .. ARGV[1]
if redis.call('HGET', r, 'status') ~= 'InProgress' or redis.call('HGET', r, 'attempt') ~= ARGV[2] then return 0 end
redis.call('HSET', r, 'status', 'Pending', 'attempt', tonumber(ARGV[2]) - 1, 'owner', '', 'lease_until', '')
redis.call('ZREM', KEYS[1] .. ':running', ARGV[1])
redis.call('ZADD', KEYS[1] .. ':pending', redis.call('HGET', r, 'submitted'), ARGV[1])
return 1
"""

_FINISH = """
local r = KEYS[1] .. ':r:' .. ARGV[1]
if redis.call('HGET', r, 'status') ~= 'InProgress' or redis.call('HGET', r, 'attempt') ~= ARGV[2] then return 0 end
redis.call('HSET', r, 'status', ARGV[3], 'staged', ARGV[4], 'reason', ARGV[5], 'finished', ARGV[6],
  'owner', ARGV[7], 'lease_until', ARGV[8])
redis.call('ZREM', KEYS[1] .. ':running', ARGV[1])
if ARGV[4] ~= '' or redis.call('HGET', r, 'notified') == '0' then
  redis.call('ZADD', KEYS[1] .. ':unsettled', ARGV[6], ARGV[1])
end
return 1
"""

_CLAIM_SETTLE = """
local r = KEYS[1] .. ':r:' .. ARGV[1]
local owner, lease = redis.call('HGET', r, 'owner'), tonumber(redis.call('HGET', r, 'lease_until'))
if (redis.call('HGET', r, 'staged') or '') == '' then return 0 end
if owner and owner ~= '' and owner ~= ARGV[2] and lease and lease >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', r, 'owner', ARGV[2], 'lease_until', tonumber(ARGV[3]) + tonumber(ARGV[4]))
return 1
"""

_SETTLED = """
local r = KEYS[1] .. ':r:' .. ARGV[1]
if ARGV[2] == 'moved' then
  redis.call('HSET', r, 'staged', '', 'owner', '', 'lease_until', '')
else
  redis.call('HSET', r, 'notified', 1)
end
if (redis.call('HGET', r, 'staged') or '') == '' and redis.call('HGET', r, 'notified') == '1' then
  redis.call('ZREM', KEYS[1] .. ':unsettled', ARGV[1])
end
return 1
"""


class RedisQueue:
    """The Redis backend (see the module docstring); ``uri`` is
    ``redis://host:port/db?prefix=mlcore:async:<endpoint>``."""

    def __init__(self, uri: str, clock: Callable[[], float] = time.time):
        import redis

        self.uri, self._clock = uri, clock
        parts = urlsplit(uri)
        self.prefix = parse_qs(parts.query).get("prefix", ["mlcore:async"])[0]
        self._redis = redis.Redis.from_url(parts._replace(query="").geturl(),
                                           socket_timeout=30, health_check_interval=10)
        self._scripts = {name: self._redis.register_script(src) for name, src in (
            ("submit", _SUBMIT), ("claim", _CLAIM), ("renew", _RENEW), ("release", _RELEASE),
            ("finish", _FINISH), ("claim_settle", _CLAIM_SETTLE), ("settled", _SETTLED))}

    def __reduce__(self):
        return (RedisQueue, (self.uri,))

    def _run(self, name: str, *args):
        return self._scripts[name](keys=[self.prefix], args=[("" if a is None else a) for a in args])

    def _key(self, id: str) -> str:
        return f"{self.prefix}:r:{id}"

    def submit(self, id, input, content_type, accept, output, failure, ttl_s, notify=False,
               max_open=None) -> Request:
        now = self._clock()
        got = self._run("submit", id, input, content_type, accept, output, failure, repr(now),
                        repr(now + ttl_s), int(not notify), -1 if max_open is None else max_open)
        if got == b"taken":
            raise Taken(f"inference id {id!r} is taken")
        if got == b"full":
            raise QueueFull(f"{max_open} requests are already queued or running")
        return self.get(id)

    def get(self, id: str) -> Request | None:
        raw = self._redis.hgetall(self._key(id))
        if not raw:
            return None
        row = {k.decode(): v.decode() for k, v in raw.items()}
        out = {}
        for f in _FIELDS:
            v = row.get(f, "")
            out[f] = (None if v == "" and f not in _INTS else float(v) if f in _FLOATS
                      else int(v or 0) if f in _INTS else v)
        return Request(**out)

    def counts(self) -> dict[str, int]:
        pending, running = self._redis.zcard(f"{self.prefix}:pending"), self._redis.zcard(f"{self.prefix}:running")
        done = {"Completed": 0, FAILED: 0}
        for key in self._redis.scan_iter(f"{self.prefix}:r:*", count=1000):
            status = (self._redis.hget(key, "status") or b"").decode()
            if status in done:
                done[status] += 1
        return {PENDING: pending, IN_PROGRESS: running, **done}

    def open_work(self) -> int:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcard(f"{self.prefix}:pending")
        pipe.zcard(f"{self.prefix}:running")
        return sum(pipe.execute())

    def claim(self, owner: str, lease_s: float, max_attempts: int) -> Request | None:
        id = self._run("claim", owner, repr(self._clock()), lease_s, max_attempts)
        return None if id is None else self.get(id.decode())

    def renew(self, held: list[tuple[str, int]], lease_s: float) -> set[str]:
        if not held:
            return set()
        args = [repr(self._clock() + lease_s)] + [x for id, attempt in held for x in (id, attempt)]
        return {k.decode() for k in self._run("renew", *args)}

    def release(self, id: str, attempt: int) -> None:
        self._run("release", id, attempt)

    def finish(self, id, attempt, status, staged, reason=None, owner=None, lease_s=0) -> bool:
        now = self._clock()
        return bool(self._run("finish", id, attempt, status, staged, reason, repr(now), owner,
                              repr(now + lease_s) if owner else None))

    def unsettled(self, limit: int = 100) -> list[Request]:
        ids = self._redis.zrange(f"{self.prefix}:unsettled", 0, limit - 1)
        return [r for r in (self.get(i.decode()) for i in ids) if r is not None]

    def claim_settle(self, id: str, owner: str, lease_s: float) -> bool:
        return bool(self._run("claim_settle", id, owner, repr(self._clock()), lease_s))

    def moved(self, id: str) -> None:
        self._run("settled", id, "moved")

    def notified(self, id: str) -> None:
        self._run("settled", id, "notified")

    def drop(self) -> None:
        """Remove every key of this queue (the endpoint was deleted)."""
        for key in self._redis.scan_iter(f"{self.prefix}:*", count=1000):
            self._redis.delete(key)
