"""The job queue: interface, fair scheduler, SQLite store and the in-process asyncio implementation."""
