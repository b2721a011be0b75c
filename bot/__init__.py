"""Discord side of the video bot. Never imports torch or diffusers (see `tests/test_architecture.py`)."""
