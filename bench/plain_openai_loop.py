"""Baseline for bench_generate: a plain asyncio + semaphore loop over the `openai` client on its
default transport, as most scripts are written. Prints one JSON line: requests, seconds, cpu_s."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import openai


async def main(base_url: str, n: int, concurrency: int) -> dict[str, float]:
    client = openai.AsyncOpenAI(api_key="bench", base_url=base_url)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str:
        async with sem:
            r = await client.chat.completions.create(
                model="fake", messages=[{"role": "user", "content": f'Use the verb "run" {i}'}], max_tokens=800
            )
            return r.choices[0].message.content or ""

    t0, c0 = time.perf_counter(), time.process_time()
    done = await asyncio.gather(*(one(i) for i in range(n)))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    await client.close()
    return {"requests": len(done), "seconds": seconds, "cpu_s": cpu}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--base-url", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--concurrency", type=int, required=True)
    a = p.parse_args()
    print(json.dumps(asyncio.run(main(a.base_url, a.n, a.concurrency))))
