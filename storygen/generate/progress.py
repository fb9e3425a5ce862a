"""The live progress bar: stories, stories/s, tokens/s, cost so far and ETA."""

from __future__ import annotations

import time

from tqdm import tqdm

from storygen.config import Price
from storygen.generate.accounting import Accounting, cost_usd


class Progress:
    def __init__(self, total: int, initial: int, price: Price | None, discount: float = 1.0, enabled: bool = True):
        self.price, self.discount = price, discount
        self.start = time.monotonic()
        self.initial = initial
        self.shown = initial
        self.bar = tqdm(
            total=total, initial=initial, unit="story", dynamic_ncols=True, mininterval=0.5,
            disable=not enabled, smoothing=0.1,
        )  # fmt: skip

    def update(self, acct: Accounting) -> None:
        delta = self.initial + acct.stories - self.shown
        self.shown += delta
        elapsed = max(1e-9, time.monotonic() - self.start)
        tokens = acct.prompt_tokens + acct.completion_tokens
        cost = cost_usd(acct.prompt_tokens, acct.completion_tokens, self.price, self.discount)
        self.bar.set_postfix_str(
            f"tok/s={tokens / elapsed:,.0f} cost=${cost:,.4f} "
            f"retries={acct.retries} failed={sum(acct.failures.values())}",
            refresh=False,
        )
        if delta:
            self.bar.update(delta)

    def close(self) -> None:
        self.bar.close()
