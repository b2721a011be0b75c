"""The job queue in Redis: the bot's `RedisJobQueue` and the workers' `RedisJobSource`, any number of
each, sharing one fair line through atomic Lua scripts (see `scripts.py` for the keys)."""
