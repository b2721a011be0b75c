"""Who may queue what, where and how often: the pure rules and the gatekeeper that applies them to an interaction."""
