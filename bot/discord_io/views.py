"""Buttons and the remix and extend forms. State lives in the custom id, so they work after a restart."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Final, Protocol, Self, cast

import discord

from bot.i18n import Speaker, current_speaker, marked
from generation.request import MAX_PROMPT_CHARS

#: Discord's ceiling for a text input. The prompt field gets all of it so the settings flags after a
#: full-length prompt are never cut; the prompt's own limit is checked once the flags are parsed out.
_TEXT_INPUT_MAX_CHARS: Final = 4000
_PLACEHOLDER_MAX_CHARS: Final = 100
_MODEL_NAME_MAX_CHARS: Final = 32  # `generation.request.MODEL_NAME`'s longest name


class JobAction(StrEnum):
    """What a button on a job's message does; the value is what its custom id carries."""

    CANCEL = "cancel"
    REROLL = "reroll"
    REMIX = "remix"
    EXTEND = "extend"
    INFO = "info"
    DELETE = "delete"

    @property
    def button(self) -> tuple[str, str, discord.ButtonStyle]:
        """Its label, emoji and style."""
        return _BUTTONS[self]


_BUTTONS: Final = {
    JobAction.CANCEL: (marked("Cancel"), "✖️", discord.ButtonStyle.danger),
    JobAction.REROLL: (marked("Re-roll"), "🎲", discord.ButtonStyle.primary),
    JobAction.REMIX: (marked("Remix"), "🎨", discord.ButtonStyle.secondary),
    JobAction.EXTEND: (marked("Extend"), "⏩", discord.ButtonStyle.secondary),
    JobAction.INFO: (marked("Info"), "ℹ️", discord.ButtonStyle.secondary),
    JobAction.DELETE: (marked("Delete"), "🗑️", discord.ButtonStyle.danger),
}


class ButtonHandler(Protocol):
    """Where a click goes: the bot's job actions (`bot.intake.actions.JobActions`)."""

    async def on_button(self, action: JobAction, job_id: str, interaction: discord.Interaction[Any]) -> None:
        """Act on `job_id` for the member who clicked."""
        ...


class ClientWithActions(Protocol):
    """The bot as a persistent button finds it: discord.py hands a click only the client."""

    @property
    def actions(self) -> ButtonHandler:
        """The bot's job actions."""
        ...


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"job:(?P<action>{'|'.join(JobAction)}):(?P<job_id>[0-9A-Za-z_-]{{1,64}})",
):
    """One action on one job, e.g. custom id `job:reroll:9f1c…`; its label in `speaker`'s language."""

    def __init__(self, action: JobAction, job_id: str, speaker: Speaker | None = None) -> None:
        label, emoji, style = action.button
        label = (speaker or current_speaker()).say(label)
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"job:{action}:{job_id}"))
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        """Rebuild the button from a click, even on messages sent before a restart."""
        return cls(JobAction(match["action"]), match["job_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the click to the bot's job actions."""
        # The one reach through the client: a button rebuilt after a restart has nothing else to hold.
        bot = cast(ClientWithActions, interaction.client)
        await bot.actions.on_button(self.action, self.job_id, interaction)


def status_view(job_id: str, speaker: Speaker | None = None) -> discord.ui.View:
    """Buttons while a job waits or runs (labels in `speaker`'s language; by default the current one's)."""
    return _view(job_id, (JobAction.CANCEL,), speaker)


def failed_view(job_id: str, speaker: Speaker | None = None) -> discord.ui.View:
    """Buttons on a failure: try it again (a job Redis lost, a call that ran out of memory...)."""
    return _view(job_id, (JobAction.REROLL,), speaker)


def result_view(job_id: str, *, extend: bool = False, speaker: Speaker | None = None) -> discord.ui.View:
    """Buttons on a finished video; Extend with `extend` (a served model animates pictures)."""
    middle = (JobAction.REMIX, JobAction.EXTEND) if extend else (JobAction.REMIX,)
    return _view(job_id, (JobAction.REROLL, *middle, JobAction.INFO, JobAction.DELETE), speaker)


def _view(job_id: str, actions: tuple[JobAction, ...], speaker: Speaker | None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(JobButton(action, job_id, speaker))
    return view


REMIX_FORM_PREFIX: Final = "remix:"
EXTEND_FORM_PREFIX: Final = "extend:"


class PromptForm(discord.ui.Modal):
    """A form pre-filled with the prompt (settings as flags) to edit and resubmit: Remix's and Extend's.

    It is sent unregistered (`remix_form`, `extend_form`): discord.py would otherwise keep it in memory
    to route its submission, and a form submitted after a restart, or before discord.py had stored it,
    would be lost. Its submission is routed by its custom id instead (`remix_submission`,
    `extend_submission`), like the buttons; `form_prefix` starts that id.
    """

    form_prefix: ClassVar[str] = REMIX_FORM_PREFIX
    heading: ClassVar[str] = marked("Remix this video")
    """The form's title in English (said in the member's language when the form is built)."""

    def __init__(self, job_id: str, prompt_with_flags: str, negative_prompt: str, speaker: Speaker) -> None:
        super().__init__(title=speaker.say(self.heading), custom_id=f"{self.form_prefix}{job_id}", timeout=None)
        # Built per form, not declared on the class, because their labels are in the member's language.
        # A text input shows raw text (no markdown, no pings), so the prompt goes in unescaped.
        self.prompt: discord.ui.TextInput[Self] = discord.ui.TextInput(
            custom_id="prompt",
            label=speaker.say("Prompt (flags like -steps 30 work here)"),
            style=discord.TextStyle.paragraph,
            max_length=_TEXT_INPUT_MAX_CHARS,
            default=prompt_with_flags,
        )
        self.negative_prompt: discord.ui.TextInput[Self] = discord.ui.TextInput(
            custom_id="negative_prompt",
            label=speaker.say("Negative prompt"),
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=MAX_PROMPT_CHARS,
            default=negative_prompt,
        )
        self.add_item(self.prompt).add_item(self.negative_prompt)


class RemixModal(PromptForm):
    """The remix form: the prompt and settings to edit, and the model, which the member may change."""

    def __init__(
        self,
        job_id: str,
        prompt_with_flags: str,
        negative_prompt: str,
        model: str,
        served: Sequence[str],
        speaker: Speaker,
    ) -> None:
        super().__init__(job_id, prompt_with_flags, negative_prompt, speaker)
        self.model: discord.ui.TextInput[Self] = discord.ui.TextInput(
            custom_id="model",
            label=speaker.say("Model"),
            style=discord.TextStyle.short,
            required=False,
            max_length=_MODEL_NAME_MAX_CHARS,
            default=model,
            placeholder=speaker.say("one of: {models}", models=", ".join(served))[:_PLACEHOLDER_MAX_CHARS],
        )
        self.add_item(self.model)


def remix_form(
    job_id: str,
    prompt_with_flags: str,
    negative_prompt: str,
    model: str,
    served: Sequence[str],
    speaker: Speaker | None = None,
) -> RemixModal:
    """The remix form, finished before it is sent so that discord.py does not store it (see `RemixModal`).

    `model` pre-fills the model field (the remixed video's); `served` are the names it may take. Its
    texts are in `speaker`'s language (by default the current one's: the member who clicked).
    """
    form = RemixModal(job_id, prompt_with_flags, negative_prompt, model, served, speaker or current_speaker())
    form.stop()
    return form


class ExtendModal(PromptForm):
    """The form for Extend: the prompt of the continuation, routed by `extend_submission`."""

    form_prefix: ClassVar[str] = EXTEND_FORM_PREFIX
    heading: ClassVar[str] = marked("Extend this video")


def extend_form(
    job_id: str, prompt_with_flags: str, negative_prompt: str, speaker: Speaker | None = None
) -> ExtendModal:
    """The extend form, finished before it is sent, as `remix_form` is."""
    form = ExtendModal(job_id, prompt_with_flags, negative_prompt, speaker or current_speaker())
    form.stop()
    return form


@dataclass(frozen=True)
class RemixSubmission:
    """What a user sent back in a remix or extend form."""

    job_id: str
    prompt: str
    negative_prompt: str
    model: str = ""
    """The model named in the form; empty in forms sent before it had the field, or cleared: the default."""


def remix_submission(interaction: discord.Interaction[Any]) -> RemixSubmission | None:
    """The remix form's answer, if `interaction` is one (whatever process sent the form)."""
    return _form_submission(interaction, REMIX_FORM_PREFIX)


def extend_submission(interaction: discord.Interaction[Any]) -> RemixSubmission | None:
    """The extend form's answer, if `interaction` is one (whatever process sent the form)."""
    return _form_submission(interaction, EXTEND_FORM_PREFIX)


def _form_submission(interaction: discord.Interaction[Any], prefix: str) -> RemixSubmission | None:
    data: dict[str, Any] = cast(dict[str, Any], interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    if interaction.type is not discord.InteractionType.modal_submit or not custom_id.startswith(prefix):
        return None
    values = dict(_text_inputs(data.get("components", [])))
    return RemixSubmission(
        custom_id.removeprefix(prefix),
        values.get("prompt", ""),
        values.get("negative_prompt", ""),
        values.get("model", ""),
    )


def _text_inputs(components: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(custom_id, value) of every text input in a submitted form, however it is nested."""
    for component in components:
        if "value" in component and "custom_id" in component:
            yield str(component["custom_id"]), str(component["value"])
        yield from _text_inputs(component.get("components", []))
        if "component" in component:  # a label wraps one component
            yield from _text_inputs([component["component"]])
