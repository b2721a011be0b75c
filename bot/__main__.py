"""`python -m bot`: run the Discord bot."""

from bot.main import run

if __name__ == "__main__":
    run()
