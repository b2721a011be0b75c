"""Slash commands, one cog per area: making videos, the queue, and admin controls."""
