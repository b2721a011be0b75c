"""A request's limits narrowed by the server's and channel's rules (`bot.moderation.precedence`).

A rule only tightens: each cap is the lower of the rule's and the model's (with the operator's `MAX_*`),
and never so low that the model has nothing left to make (its fewest frames, its smallest size).
"""

from __future__ import annotations

import dataclasses

from bot.intake.options import RequestLimits
from bot.moderation.precedence import EffectiveRules


def narrowed(limits: RequestLimits, here: EffectiveRules) -> RequestLimits:
    """`limits` under the caps of the rules `here`; the same object when no rule caps anything."""
    steps, frames, pixels = here.cap(here.max_steps), here.cap(here.max_frames), _pixels(here.max_size.value)
    if steps is None and frames is None and pixels is None:
        return limits
    sizes = limits.sizes
    if pixels is not None:
        smallest = min(sizes, key=lambda size: size.width * size.height)
        sizes = tuple(size for size in sizes if size.width * size.height <= pixels) or (smallest,)
    return dataclasses.replace(
        limits,
        max_steps=limits.max_steps if steps is None else min(limits.max_steps, steps),
        max_frames=(
            limits.max_frames if frames is None else min(limits.max_frames, max(frames, limits.profile.frames.minimum))
        ),
        sizes=sizes,
    )


def _pixels(size: str | None) -> int | None:
    if size is None:
        return None
    width, height = size.split("x")
    return int(width) * int(height)
