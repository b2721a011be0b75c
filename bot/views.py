"""Buttons and the remix form. Button state lives in the custom id, so they work after a restart."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, Self, cast

import discord

from generation.request import MAX_PROMPT_CHARS

if TYPE_CHECKING:
    from bot.client import VideoBot

#: Discord's ceiling for a text input. The prompt field gets all of it so the settings flags after a
#: full-length prompt are never cut; the prompt's own limit is checked once the flags are parsed out.
_TEXT_INPUT_MAX_CHARS: Final = 4000

ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    "cancel": ("Cancel", "✖️", discord.ButtonStyle.danger),
    "reroll": ("Re-roll", "🎲", discord.ButtonStyle.primary),
    "remix": ("Remix", "🎨", discord.ButtonStyle.secondary),
    "info": ("Info", "ℹ️", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
}


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"job:(?P<action>cancel|reroll|remix|info|delete):(?P<job_id>[0-9A-Za-z_-]{1,64})",
):
    """One action on one job, e.g. custom id `job:reroll:9f1c…`."""

    def __init__(self, action: str, job_id: str) -> None:
        label, emoji, style = ACTIONS[action]
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"job:{action}:{job_id}"))
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        """Rebuild the button from a click, even on messages sent before a restart."""
        return cls(match["action"], match["job_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the click to the bot's job actions."""
        bot = cast("VideoBot", interaction.client)
        await bot.actions.on_button(self.action, self.job_id, interaction)


def status_view(job_id: str) -> discord.ui.View:
    """Buttons while a job waits or runs."""
    return _view(job_id, ("cancel",))


def result_view(job_id: str) -> discord.ui.View:
    """Buttons on a finished video."""
    return _view(job_id, ("reroll", "remix", "info", "delete"))


def _view(job_id: str, actions: tuple[str, ...]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(JobButton(action, job_id))
    return view


class RemixModal(discord.ui.Modal, title="Remix this video"):
    """A form pre-filled with the prompt (settings as flags) to edit and resubmit."""

    prompt: discord.ui.TextInput[Self] = discord.ui.TextInput(
        custom_id="prompt",
        label="Prompt (flags like -steps 30 work here)",
        style=discord.TextStyle.paragraph,
        max_length=_TEXT_INPUT_MAX_CHARS,
    )
    negative_prompt: discord.ui.TextInput[Self] = discord.ui.TextInput(
        custom_id="negative_prompt",
        label="Negative prompt",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=MAX_PROMPT_CHARS,
    )

    def __init__(self, job_id: str, prompt_with_flags: str, negative_prompt: str) -> None:
        super().__init__(custom_id=f"remix:{job_id}", timeout=600)
        self.job_id = job_id
        # A text input shows raw text (no markdown, no pings), so the prompt goes in unescaped.
        self.prompt.default = prompt_with_flags
        self.negative_prompt.default = negative_prompt

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        """Submit the edited prompt as a new job."""
        bot = cast("VideoBot", interaction.client)
        await bot.actions.on_remix_submit(interaction, self.prompt.value, self.negative_prompt.value)
