"""Load generator (its own process): ``n`` POSTs of one body at ``concurrency`` connections,
as fast as the server answers; prints one JSON line (throughput, p50/p99 ms, errors; with
``--latencies``, every request's latency too)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


async def main(url: str, body: bytes, headers: dict, n: int, concurrency: int) -> dict:
    latencies, errors, left = [], 0, n
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def worker():
            nonlocal left, errors
            while left > 0:
                left -= 1
                t = time.perf_counter()
                try:
                    async with http.post(url, data=body, headers=headers) as r:
                        await r.read()
                        ok = r.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append((time.perf_counter() - t) * 1000)
                errors += not ok

        for _ in range(min(concurrency, 10)):  # warm-up: connections, caches, replicas
            async with http.post(url, data=body, headers=headers) as r:
                await r.read()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return {**summary(latencies, concurrency, wall, errors), "latencies_ms": latencies}


def summary(latencies: list[float], concurrency: int, seconds: float, errors: int) -> dict:
    """Throughput and p50/p99 of requests that took ``latencies`` (ms) in ``seconds``."""
    latencies = sorted(latencies)
    n = len(latencies)
    return {"requests": n, "concurrency": concurrency, "seconds": round(seconds, 3),
            "rps": round(n / seconds, 1), "p50_ms": round(latencies[n // 2], 2),
            "p99_ms": round(latencies[int(n * 0.99) - 1], 2), "errors": errors}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--body-file", required=True)
    p.add_argument("--content-type", default="text/csv")
    p.add_argument("--header", action="append", default=[], help="NAME=VALUE")
    p.add_argument("-n", type=int, default=500)
    p.add_argument("-c", "--concurrency", type=int, default=1)
    p.add_argument("--latencies", action="store_true", help="also print each request's latency")
    a = p.parse_args()
    headers = {"Content-Type": a.content_type, **dict(h.split("=", 1) for h in a.header)}
    body = open(a.body_file, "rb").read()
    out = asyncio.run(main(a.url, body, headers, a.n, a.concurrency))
    if not a.latencies:
        del out["latencies_ms"]
    print(json.dumps(out))
