"""Start-up and wiring: the `videobot` command, the checks that run before Discord, and the bot that
wires the Discord side together."""
