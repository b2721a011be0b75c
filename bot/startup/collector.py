"""Python's cyclic garbage collector, set for a process whose event loop must answer within milliseconds.

The collector stops the whole process while it walks the objects of the generations it collects, and
with its defaults a full collection (the oldest generation, whenever it has grown by a quarter since
the last) walks everything the bot ever loaded: discord.py, pydantic's models, babel's locale data,
the catalogues, about 90,000 objects that live as long as the process. In a burst of interactions the
jobs' own objects grow the oldest generation fast, so full collections come one after another, each a
stall of the event loop that no answer gets past (`python -m bench.ack_bench --bursts 1000 --load stress`
on two busy cores: pauses of up to 395 ms, 1.1–1.5 s of them in one burst).

So once the bot has started, what is alive then is moved out of the collector's sight for good
(`gc.freeze`: it would never be freed anyway), and a full collection waits for `FULL_EVERY` collections
of the middle generation instead of 10. Young garbage is collected as before; cycles that reach the
oldest generation are freed later, not never (they cost memory for a while, not for good). The
figures are in docs/performance.md ("A thousand at once").
"""

from __future__ import annotations

import gc
import logging
from typing import Final

log = logging.getLogger(__name__)

FULL_EVERY: Final = 100
"""Collections of the middle generation between two full collections (Python's default: 10)."""


def settle_after_start() -> None:
    """Collect once, keep everything alive now out of later collections, and space out full collections.

    Call once, after start-up has loaded everything long-lived (the bot's `setup_hook`), in the bot's
    own process: a test or a library calling it would make its caller's live objects permanent too.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_EVERY)
    log.info(
        "garbage collector: %d start-up objects frozen, full collection every %d", gc.get_freeze_count(), FULL_EVERY
    )
