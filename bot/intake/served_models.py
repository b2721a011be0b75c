"""The models a member may pick with `/video model:`, as the queue serves them now.

The queue knows what is served (in-process: the models this GPU holds; in Redis: what live workers
advertise). Every `/video`, autocomplete keystroke and queued status asks, so the answer is kept for
`ttl_s` on the bot's clock: a model that comes or goes is seen within that time, and a burst of
requests costs one look at the queue. A model is picked by name, else by the channel's or server's
default, else `DEFAULT_MODEL`, else the first the deployment lists; each brings its own limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bot.errors import InvalidOptionError
from bot.i18n import ENGLISH, Speaker, Text, current_speaker
from bot.intake.options import ChannelDefaults, RequestLimits
from generation.clock import Clock
from generation.profiles import ModelProfile
from generation.queue.interface import JobQueue, ServedModel

#: How long one answer of `JobQueue.models()` is used before asking again.
MODELS_TTL_S: Final = 10.0
#: Discord shows at most 25 choices in an autocomplete menu.
MAX_CHOICES: Final = 25


def kind_of(profile: ModelProfile) -> Text:
    """What a model makes, as members read it next to its name."""
    return Text("image → video") if profile.image_to_video else Text("text → video")


def listed(models: Sequence[ServedModel], speaker: Speaker = ENGLISH) -> str:
    """The models as an error lists them: "`fast` (text → video), `animate` (image → video)"."""
    return ", ".join(f"`{model.name}` ({speaker.say(kind_of(model.profile))})" for model in models)


class ServedModels:
    """The queue's served models, looked up at most every `ttl_s`, and how a request picks one."""

    def __init__(
        self,
        queue: JobQueue,
        limits: RequestLimits,
        clock: Clock,
        *,
        default_model: str | None,
        ttl_s: float = MODELS_TTL_S,
    ) -> None:
        self._queue = queue
        self._limits = limits
        self._clock = clock
        self._default_model = default_model
        self._ttl_s = ttl_s
        self._models: tuple[ServedModel, ...] = ()
        self._fetched_at: float | None = None

    async def current(self, *, fresh: bool = False) -> tuple[ServedModel, ...]:
        """The models served now, in the deployment's order (at most `ttl_s` old, or `fresh`).

        "None served" is never kept: a worker that registers is usable at once, not `ttl_s` later.
        """
        now = self._clock.monotonic()
        if fresh or not self._models or self._fetched_at is None or now - self._fetched_at >= self._ttl_s:
            self._models = await self._queue.models()
            self._fetched_at = now
        return self._models

    async def offered(self) -> tuple[ServedModel, ...]:
        """The models a member may pick: those served now, else the one the settings describe, with no
        worker yet. A bot whose workers have not registered (or are all gone) still takes requests for
        its configured model, and they wait in the queue for a worker, as they always have."""
        profile = self._limits.profile
        return await self.current() or (ServedModel(profile.name, profile, workers=0),)

    def forget(self) -> None:
        """Ask the queue again next time (it has just started: workers may have registered since)."""
        self._fetched_at = None

    async def choose(self, name: str | None, defaults: Sequence[ChannelDefaults] = ()) -> ServedModel:
        """The model a request runs on: `name` (which must be served), else the first served default.

        Defaults, most specific first: `defaults` (channel, then server), then `DEFAULT_MODEL`, then the
        first served model; a default naming a model not served now is passed over. Raises
        `InvalidOptionError` listing the served models for an unknown `name`.
        """
        models = await self.offered()
        by_name = {model.name: model for model in models}
        if name is not None and name not in by_name:
            # A model that came up since the last look is taken, not refused for up to `ttl_s`.
            models = await self.current(fresh=True) or models
            by_name = {model.name: model for model in models}
        if name is not None:
            if name not in by_name:
                # Built as the member's own handler runs, so the kinds are said in their language.
                allowed = Text("one of the models served now: {models}", models=listed(models, current_speaker()))
                raise InvalidOptionError("model", f"“{name[:40]}”", allowed)
            return by_name[name]
        wanted = [*(scope.model for scope in defaults), self._default_model]
        return next((by_name[want] for want in wanted if want in by_name), models[0])

    async def choices(self, typed: str, speaker: Speaker = ENGLISH) -> list[tuple[str, str]]:
        """(label, name) of the served models whose name contains `typed`: a `model:` option's menu,
        in `speaker`'s language."""
        wanted = typed.strip().lower()
        return [
            (_menu_label(model, speaker), model.name) for model in await self.offered() if wanted in model.name.lower()
        ][:MAX_CHOICES]

    async def picture_taker(self) -> ServedModel | None:
        """The first served model that animates pictures, if any."""
        return next((model for model in await self.current() if model.profile.image_to_video), None)

    def limits_for(self, model: ServedModel) -> RequestLimits:
        """The limits a request for `model` is held to.

        The configured model keeps this deployment's settings (`MAX_STEPS`, `VIDEO_SIZES`, ...), which
        were checked against its profile at start-up; any other model is held to its own profile's.
        """
        if model.profile == self._limits.profile:
            return self._limits
        return RequestLimits.of_profile(model.profile)

    def limits_for_default(self) -> RequestLimits:
        """The configured model's limits: what `/video` offers before any model is served."""
        return self._limits

    def configured(self, model: ServedModel) -> bool:
        """True for the model the deployment's settings describe (its deployment defaults apply)."""
        return model.profile == self._limits.profile


def _menu_label(model: ServedModel, speaker: Speaker) -> str:
    label = speaker.say("{model} ({kind})", model=model.name, kind=kind_of(model.profile))
    return label if model.workers else label + speaker.say(" · no worker up now")
