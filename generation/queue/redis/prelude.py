"""The Lua every script (`scripts.py`) starts with: its arguments, keys, events, estimates, the fair
order and how a job ends. It lives in `lua/prelude.lua`, prepended to each script so that each stays
one atomic `EVALSHA`.
"""

from __future__ import annotations

import re
from importlib.resources import files
from typing import Final


def lua_source(name: str) -> str:
    """The text of `lua/{name}.lua`, shipped inside the package."""
    return files(__package__).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


PRELUDE: Final = lua_source("prelude")


def _lua_constant(name: str) -> int:
    found = re.search(rf"^local {name} = (\d+)$", PRELUDE, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"lua/prelude.lua declares no `local {name} = <number>`")
    return int(found.group(1))


NEAR_PLACES: Final = _lua_constant("NEAR_PLACES")
"""Places at the head of the line told as they change; past them, coalesced (see `scripts.py`). Read
from the Lua, which owns it."""
