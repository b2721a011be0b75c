"""`python -m bot`: run the Discord bot (the `videobot` command)."""

from bot.startup.cli import run

if __name__ == "__main__":
    run()
