"""Generation throughput against the loopback OpenAI server (latency L = 200 ms), side by side with
a plain asyncio + semaphore loop over the openai client (bench/plain_openai_loop.py), at
concurrency C in {64, 256, 1024}. Writes bench/results/generate.json.

Targets (issue 4): >= 0.95 x C/L at C = 64; >= 1000 stories/s at C = 1024 on 2 cores, >= 3x the plain
loop, client CPU <= 1 ms per story. storygen's figures come from its own run.json: the sustained rate from
the first request to the last stored story (the session rate, with start-up, is kept beside it) and
the CPU of the client processes while sending.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from storygen.testing.openai_server import RunningServer

HERE = Path(__file__).resolve().parent
LATENCY = 0.2


def plain_loop(base_url: str, n: int, c: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(HERE / "plain_openai_loop.py"), "--base-url", base_url, "--n", str(n),
         "--concurrency", str(c)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    r = json.loads(out.stdout)
    return {"per_s": r["requests"] / r["seconds"], "cpu_ms_per_story": 1000 * r["cpu_s"] / r["requests"], **r}


def storygen(base_url: str, n: int, c: int, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable, "-m", "storygen", "generate", "--out", f"{tmp}/run", "--no-progress", "--model", "fake",
            "--base-url", base_url, "--n", str(n), "--concurrency", str(c), "--workers", str(workers),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OPENAI_API_KEY": "bench"})
        s = json.loads(Path(f"{tmp}/run/run.json").read_text())["session"]
    return {
        "per_s": s["sustained_stories_per_s"],
        "session_per_s": s["stories_per_s"],
        "cpu_ms_per_story": 1000 * s["cpu_s"] / s["stories"],
        "requests": s["requests"],
        "seconds": s["seconds"],
        "workers": workers,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer requests per point (a smoke run)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "generate.json")
    a = p.parse_args()
    rows = []
    with RunningServer(latency=LATENCY) as server:
        for c in (64, 256, 1024):
            n = max(4000, 10 * c) if not a.quick else max(300, c)
            base = plain_loop(server.base_url, n, c)
            ours = [storygen(server.base_url, n, c, w) for w in (1, 2)]
            best = max(ours, key=lambda r: r["per_s"])
            row = {
                "concurrency": c,
                "ideal_per_s": c / LATENCY,
                "plain_loop": base,
                "storygen_1_worker": ours[0],
                "storygen_2_workers": ours[1],
                "speedup_vs_plain": best["per_s"] / base["per_s"],
                "share_of_ideal": best["per_s"] / (c / LATENCY),
            }
            rows.append(row)
            print(
                f"C={c:5d}  ideal {c / LATENCY:7.0f}/s"
                f" | plain loop {base['per_s']:7.1f}/s {base['cpu_ms_per_story']:.2f} ms CPU"
                f" | storygen 1 worker {ours[0]['per_s']:7.1f}/s {ours[0]['cpu_ms_per_story']:.2f} ms"
                f" | 2 workers {ours[1]['per_s']:7.1f}/s {ours[1]['cpu_ms_per_story']:.2f} ms"
                f" | {row['speedup_vs_plain']:.2f}x plain, {row['share_of_ideal']:.2f} of C/L",
                flush=True,
            )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "generate", "latency_s": LATENCY, "cores": os.cpu_count(), "rows": rows}
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
