"""How long a test waits for something that must happen before it calls the wait a hang.

Every wait in the suite is gated on an event or a condition, never on a pause; this deadline only turns
a hang into a failure with a message instead of a stuck run. It is sized for a 2-core machine many times
oversubscribed (CI's second run is under `stress-ng`, on a shared host), where a wait that takes
milliseconds on a quiet machine can take seconds. A test that needs more than this is too heavy.
"""

PATIENCE_S = 60.0
