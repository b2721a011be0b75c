"""`ProcessGenerator`: a `VideoGenerator` whose pipeline runs in a child process.

A diffusion pipeline's Python side (scheduler steps, hooks, kernel launches) holds the GIL for much of
every step. In the bot's own process that starves the event loop: each socket call the loop makes
gives the GIL away and waits up to the interpreter's switch interval to get it back, so under a
burst of requests the first answers to Discord and the gateway heartbeat run late. In a child
process the pipeline has a GIL of its own, and a crash in native code (a CUDA fault, a segfault)
costs one job instead of the bot.

The child is started on first use with the `spawn` method (CUDA cannot be forked) and builds the
real generator from a picklable factory. `generate` blocks the caller's thread (the queue's GPU
thread) while the child works; progress, the frames and errors come back over a pipe, and the
caller's cancel token is passed on within `_POLL_S`. If the child dies, the call fails with a
`GenerationError` that says so, and the next call starts a new child (and loads the model again).
When the parent goes away the child notices its pipe close and exits. `halt` (from any thread) kills
the child for good, so a shutdown need not wait for a model load to end.

The child runs at a lower CPU priority (`CHILD_NICENESS`) than its parent. On a GPU host it mostly
waits on the device and the setting costs nothing; on a host whose CPUs are all busy, the parent's
event loop (Discord's 3-second answers, the gateway heartbeat) goes first and the pipeline's Python
side takes what is left: a late answer loses a user's request, a slower step does not.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Final

from generation.errors import EngineError, GenerationCancelled, GenerationError
from generation.protocol import CancelToken, ProgressCallback, VideoGenerator
from generation.request import VideoRequest
from generation.results import GeneratedClip

log = logging.getLogger(__name__)

#: Added to the child's nice value (0 = the parent's priority, 19 = the lowest).
CHILD_NICENESS: Final = 10

GeneratorFactory = Callable[[], VideoGenerator]
"""Builds the real generator inside the child; must be picklable (a module-level function or a
`functools.partial` of one)."""

_POLL_S: Final = 0.01
"""How often a caller waiting on the child looks at its cancel token and at whether the child lives."""


# -- what crosses the pipe (parent -> child) ------------------------------------------------------


@dataclass(frozen=True)
class _Load:
    """Load the model now."""


@dataclass(frozen=True)
class _Generate:
    """Run one `generate` call; `call` names it for cancellation."""

    call: int
    requests: tuple[VideoRequest, ...]


@dataclass(frozen=True)
class _Cancel:
    """Stop call `call` at its next step."""

    call: int


# -- what crosses the pipe (child -> parent) ------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """The model is loaded (`seconds` it took; 0 when it already was)."""

    seconds: float
    memory: int | None


@dataclass(frozen=True)
class _Progress:
    """One denoising step finished."""

    step: int
    total: int


@dataclass(frozen=True)
class _Generated:
    """The call's clips, one per request."""

    clips: list[GeneratedClip]
    memory: int | None


@dataclass(frozen=True)
class _Raised:
    """The call (or the load) raised `error`."""

    error: BaseException
    memory: int | None


class ProcessGenerator:
    """Runs the generator `factory` builds in a child process; see the module docstring.

    Like every `VideoGenerator`, blocking and for one thread at a time, except `memory_in_use`, which
    answers from the last figure the child reported and never waits.
    """

    def __init__(self, factory: GeneratorFactory, *, max_batch_size: int) -> None:
        self._factory = factory
        self._max_batch_size = max_batch_size
        self._context = get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._loaded = False
        self._memory: int | None = None
        self._calls = itertools.count(1)
        self._halted = threading.Event()

    @property
    def max_batch_size(self) -> int:
        """How many same-shape requests one `generate` call accepts."""
        return self._max_batch_size

    def memory_in_use(self) -> int | None:
        """Accelerator memory the child reported after its last load or call. Thread-safe."""
        return self._memory

    def load(self) -> float:
        """Start the child if needed and have it load the model; the seconds that took. Blocking."""
        if self._loaded:
            return 0.0
        conn = self._connection()
        conn.send(_Load())
        answer = self._receive(conn, None, None)
        assert isinstance(answer, _Loaded)
        self._loaded = True
        return answer.seconds

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        """Run one `generate` call in the child; see `VideoGenerator.generate`. Blocking."""
        conn = self._connection()
        call = next(self._calls)
        conn.send(_Generate(call, tuple(requests)))
        answer = self._receive(conn, on_progress, (cancel, call))
        assert isinstance(answer, _Generated)
        return answer.clips

    def halt(self) -> None:
        """Kill the child now and start no other: the call waiting on it (a model load, which has no
        cancel token, included) raises `GenerationCancelled` within `_POLL_S`, and so does every later
        call. Thread-safe: for a shutdown that will not wait for the GPU thread."""
        self._halted.set()
        process = self._process
        if process is not None:
            process.kill()
            log.info("gpu process halted pid=%s", process.pid)

    def close(self) -> None:
        """Stop the child (it also stops by itself when this process goes away)."""
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._conn, self._process, self._loaded = None, None, False

    def _connection(self) -> Connection:
        if self._halted.is_set():
            raise self._stopped()
        if self._conn is None or self._process is None or not self._process.is_alive():
            parent_end, child_end = self._context.Pipe()
            process = self._context.Process(
                target=_serve,
                args=(child_end, self._factory, logging.getLogger().getEffectiveLevel()),
                name="gpu-process",
                daemon=True,
            )
            process.start()
            child_end.close()
            self._conn, self._process, self._loaded = parent_end, process, False
            log.info("gpu process started pid=%s", process.pid)
        return self._conn

    def _receive(
        self,
        conn: Connection,
        on_progress: ProgressCallback | None,
        cancellable: tuple[CancelToken | None, int] | None,
    ) -> _Loaded | _Generated:
        """Wait for the answer to the command just sent, passing progress on and a cancellation in."""
        cancel, call = cancellable if cancellable is not None else (None, 0)
        cancel_sent = False
        while True:
            try:
                if cancel is not None and cancel.cancelled and not cancel_sent:
                    conn.send(_Cancel(call))
                    cancel_sent = True
                ready = conn.poll(_POLL_S)
                message: _Progress | _Loaded | _Generated | _Raised | None = conn.recv() if ready else None
            except (EOFError, OSError):
                raise (self._stopped() if self._halted.is_set() else self._died()) from None
            if self._halted.is_set():
                raise self._stopped()
            if message is None:
                if self._process is not None and not self._process.is_alive():
                    raise self._died()
                continue
            if isinstance(message, _Progress):
                if on_progress is not None:
                    on_progress(message.step, message.total)
                continue
            self._memory = message.memory
            if isinstance(message, _Raised):
                raise message.error
            return message

    def _stopped(self) -> GenerationCancelled:
        """After `halt`: the child gone (one started as the halt came is killed here), the error to raise."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        return GenerationCancelled("the GPU process was stopped: the worker is shutting down")

    def _died(self) -> GenerationError:
        process = self._process
        code = None
        if process is not None:
            process.join(timeout=10)
            code = process.exitcode
        self._conn, self._process, self._loaded = None, None, False
        log.error("gpu process stopped unexpectedly exit_code=%s", code)
        return GenerationError(
            f"the GPU process stopped unexpectedly (exit code {code}); it is restarted for the next video"
        )


# -- the child ------------------------------------------------------------------------------------


def _serve(conn: Connection, factory: GeneratorFactory, log_level: int) -> None:
    """The child's main: build the generator, then run commands until the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    os.nice(CHILD_NICENESS)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s gpu-process %(name)s: %(message)s")
    generator = factory()
    inbox: queue.SimpleQueue[_Load | _Generate | None] = queue.SimpleQueue()
    running: dict[int, CancelToken] = {}
    cancelled: set[int] = set()  # cancellations that overtook their call on the way in
    lock = threading.Lock()

    def listen() -> None:
        # On its own thread, so a cancellation reaches a call that is running.
        while True:
            try:
                command = conn.recv()
            except (EOFError, OSError):
                inbox.put(None)
                return
            if isinstance(command, _Cancel):
                with lock:
                    token = running.get(command.call)
                    if token is None:
                        cancelled.add(command.call)
                if token is not None:
                    token.cancel()
            else:
                inbox.put(command)

    threading.Thread(target=listen, name="gpu-process-pipe", daemon=True).start()
    while (command := inbox.get()) is not None:
        if isinstance(command, _Load):
            _answer(conn, lambda: _Loaded(generator.load(), generator.memory_in_use()), generator)
            continue
        token = CancelToken()
        with lock:
            running[command.call] = token
            if command.call in cancelled:
                cancelled.discard(command.call)
                token.cancel()

        def generate(command: _Generate = command, token: CancelToken = token) -> _Generated:
            clips = generator.generate(command.requests, lambda step, total: conn.send(_Progress(step, total)), token)
            return _Generated(clips, generator.memory_in_use())

        _answer(conn, generate, generator)
        with lock:
            running.pop(command.call, None)
    # The parent is gone: nobody wants what is left, and the GPU memory should be freed now.
    os._exit(0)


def _answer(conn: Connection, work: Callable[[], _Loaded | _Generated], generator: VideoGenerator) -> None:
    try:
        answer: _Loaded | _Generated | _Raised = work()
    except Exception as error:
        if not isinstance(error, EngineError):
            log.exception("the generator raised an unexpected error")
        answer = _Raised(_picklable(error), generator.memory_in_use())
    try:
        conn.send(answer)
    except (BrokenPipeError, OSError):
        os._exit(0)


def _picklable(error: Exception) -> Exception:
    """`error` itself if it survives the pipe, else a stand-in of the same standing: one of ours keeps
    its message for the user; anything else stays a bug the parent reports generically."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        if isinstance(error, EngineError):
            return GenerationError(str(error))
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
