"""`python -m generation`: generate one video, or `python -m generation download` a model (see `cli`)."""

from __future__ import annotations

from generation import cli


def run() -> None:
    """Entry point of `python -m generation` and the `videobot-generate` script."""
    raise SystemExit(cli.main())


if __name__ == "__main__":
    run()
