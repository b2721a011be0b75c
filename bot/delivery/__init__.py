"""A job's life in Discord after it is queued: following its events, its one status message, and the uploaded MP4."""
