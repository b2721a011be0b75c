"""A small real discord.py bot that uses each Discord feature the emulator has to get right."""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands
from discord.ext import commands

VIDEO_BYTES = bytes(range(256)) * 64
COLOURS = ("red", "green", "blue", "reddish brown")


class PickView(discord.ui.View):
    """A button that rewrites its message, naming who pressed it."""

    @discord.ui.button(label="OK", custom_id="ok", style=discord.ButtonStyle.primary)
    async def ok(self, interaction: discord.Interaction, button: discord.ui.Button[PickView]) -> None:
        """Replace the message text and drop the button."""
        await interaction.response.edit_message(content=f"clicked by {interaction.user.name}", view=None)


class AskModal(discord.ui.Modal, title="Ask"):
    """One text input; the submission is echoed back."""

    answer: discord.ui.TextInput[AskModal] = discord.ui.TextInput(label="Answer", custom_id="answer", max_length=20)

    def __init__(self) -> None:
        super().__init__(custom_id="ask")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Echo the answer."""
        await interaction.response.send_message(f"you said {self.answer.value}")


class TinyBot(commands.Bot):
    """Syncs its commands to `guild_id` (and globally) at start-up; remembers each interaction."""

    def __init__(self, guild_id: int, *, work_seconds: float = 0.0) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.guild_id = guild_id
        self.work_seconds = work_seconds
        self.seen: list[discord.Interaction] = []
        self.tree.add_command(_commands_for(self), guild=discord.Object(guild_id))
        self.tree.add_command(_ping)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Re-identify at once: discord.py waits 5 s here to respect Discord's identify rate limit,
        which the emulator does not impose."""

    async def setup_hook(self) -> None:
        """Sync guild commands, then global ones."""
        await self.tree.sync(guild=discord.Object(self.guild_id))
        await self.tree.sync()


@app_commands.command(name="ping", description="Global liveness check")
async def _ping(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("pong", ephemeral=True)


def _commands_for(bot: TinyBot) -> app_commands.Group:
    group = app_commands.Group(name="t", description="emulator proofs")

    @group.command(description="Reply with text")
    async def echo(interaction: discord.Interaction, text: str, times: int = 1) -> None:
        bot.seen.append(interaction)
        await asyncio.sleep(bot.work_seconds)
        await interaction.response.send_message(text * times)

    @group.command(description="Download an attached file and say what it is")
    async def fetch(interaction: discord.Interaction, file: discord.Attachment) -> None:
        bot.seen.append(interaction)
        try:
            data = await file.read()
        except discord.NotFound:
            await interaction.response.send_message(f"{file.filename} is gone", ephemeral=True)
            return
        await interaction.response.send_message(f"{file.filename} {file.content_type} {len(data)} bytes {data!r}")

    @group.command(description="Reply with embeds")
    async def embeds(interaction: discord.Interaction, count: int, size: int) -> None:
        bot.seen.append(interaction)
        await interaction.response.send_message(embeds=[discord.Embed(description="d" * size)] * count)

    @group.command(description="Defer, then follow up with a file")
    async def render(interaction: discord.Interaction, prompt: str, ephemeral: bool = False) -> None:
        bot.seen.append(interaction)
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)
        file = discord.File(io.BytesIO(VIDEO_BYTES), filename="video.mp4")
        await interaction.followup.send(f"done: {prompt}", file=file)

    @group.command(description="Post in the channel")
    async def post(interaction: discord.Interaction, text: str) -> None:
        bot.seen.append(interaction)
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.channel.send(text)
        await interaction.response.send_message("posted", ephemeral=True)

    @group.command(description="Offer a button")
    async def pick(interaction: discord.Interaction) -> None:
        bot.seen.append(interaction)
        await interaction.response.send_message("pick one", view=PickView())

    @group.command(description="Name a colour, picked from a menu as you type")
    async def colour(interaction: discord.Interaction, name: str) -> None:
        bot.seen.append(interaction)
        await interaction.response.send_message(f"you picked {name}")

    @colour.autocomplete("name")
    async def colours(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        # "many" asks for more choices than Discord takes, to prove the answer is checked against the spec.
        names = [f"grey {n}" for n in range(26)] if current == "many" else [c for c in COLOURS if current in c]
        return [app_commands.Choice(name=name, value=name) for name in names]

    @group.command(description="Ask with a modal")
    async def ask(interaction: discord.Interaction) -> None:
        bot.seen.append(interaction)
        await interaction.response.send_modal(AskModal())

    return group
