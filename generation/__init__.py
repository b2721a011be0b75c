"""GPU side of the video bot: requests, the generator, encoding and the job queue.

Importing this package (and `generation.queue`) must stay cheap and torch-free: the Discord bot
imports it to build requests and talk to the queue, and a bot that talks to remote GPU workers runs
without torch installed. Anything that needs torch lives in `generation.pipeline` and
`generation.generator` and is imported lazily.
"""
