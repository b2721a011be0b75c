"""`/videoadmin rules …` and `/videoadmin audit`: a server's own rules, edited and explained in Discord.

Each edit is one read-change-write of the server's `GuildRules` in the rules store, audited item by
item (`bot.moderation.rules_audit`), and applies to the next `/video` in every bot process. What an
edit may set is checked here first, so the admin reads the reason at once: a cap above the operator's
limit, a blocklist entry that is not a valid regular expression, a size that is not WIDTHxHEIGHT.
"""

from __future__ import annotations

import logging
import re
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import discord
from discord import app_commands
from discord.app_commands import locale_str
from pydantic import ValidationError

from bot.cogs.admin import NotAdminError
from bot.cogs.rules_view import FOLLOW_DISCORD, LANGUAGE_NAMES, audit_line, rules_embed
from bot.discord_io.acknowledgement import Acknowledgement, Deferral, acknowledged
from bot.errors import InvalidOptionError
from bot.i18n import Text, speaker_for
from bot.i18n.commands import command_text
from bot.intake.queue_controls import QueueControls
from bot.moderation.gatekeeper import Gatekeeper
from bot.moderation.precedence import effective_rules, member_rules
from bot.moderation.rules import Blocklist, BlocklistMode
from bot.moderation.rules_store import Edit
from bot.moderation.server_rules import (
    MAX_COOLDOWN_S,
    MAX_HELD,
    MAX_QUOTA,
    MAX_WEIGHT,
    DailyQuota,
    GuildRules,
    RolePerk,
    ScopeLimits,
)
from generation.clock import Clock

audit_log = logging.getLogger("videobot.audit")

AUDIT_SHOWN: Final = 10
_SIZE: Final = re.compile(r"^\s*(\d+)\s*[x×]\s*(\d+)\s*$")
_NOT_ADMIN: Final = Text("Only members with Manage Server or the bot admin role can change the bot's rules.")
_ACTIONS: Final = [app_commands.Choice(name=name, value=name) for name in ("allow", "disallow", "reset")]
_MODES: Final = [app_commands.Choice(name=mode.value.replace("_", " "), value=mode.value) for mode in BlocklistMode]
_FOLLOW: Final = "discord"
_LANGUAGES: Final = [
    app_commands.Choice(name=locale_str(FOLLOW_DISCORD), value=_FOLLOW),
    *(app_commands.Choice(name=name, value=locale) for locale, name in LANGUAGE_NAMES.items()),
]


class RulesGroup(app_commands.Group):
    """`/videoadmin rules`: show, limits, channels, roles, blocklist, quota, perk, language."""

    def __init__(self, gatekeeper: Gatekeeper, controls: QueueControls, clock: Clock) -> None:
        super().__init__(name="rules", description=locale_str("This server's rules for /video"))
        self._gatekeeper = gatekeeper
        self._store = gatekeeper.rules_store
        self._controls = controls
        self._clock = clock

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Only admins pass (Manage Server or the operator's admin role)."""
        if not self._gatekeeper.is_admin(interaction):
            raise NotAdminError(_NOT_ADMIN)
        return True

    @app_commands.command(name="show", description=locale_str("The rules in force here, each with where it comes from"))
    @app_commands.describe(
        channel=locale_str("Show them for this channel (default: the server as a whole)"),
        member=locale_str("Show this member's quota, jobs held and weight, with their roles' perks"),
    )
    async def show(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | None = None,
        member: discord.Member | None = None,
    ) -> None:
        """List the effective rules of the server, or of one channel, for everyone or one member."""
        async with self._acknowledged(interaction) as ack:
            guild_id = _guild(interaction)
            rules = await self._store.rules(guild_id)
            here = effective_rules(self._gatekeeper.operator, rules, None if channel is None else channel.id)
            speaker = speaker_for(interaction.locale)
            where = speaker.say("this server") if channel is None else f"<#{channel.id}>"
            if member is not None:
                here = member_rules(here, frozenset(role.id for role in member.roles))
                where = speaker.say("{where} for {member}", where=where, member=f"<@{member.id}>")
            await ack.respond(embed=rules_embed(here, where, rules.blocklist, speaker), ephemeral=True)

    @app_commands.command(
        name="limits",
        description=locale_str("Cooldown and the most steps, frames and size, server-wide or for one channel"),
    )
    @app_commands.describe(
        channel=locale_str("Set them for this channel only (default: the whole server)"),
        cooldown=locale_str("Seconds a member waits between two videos"),
        max_steps=locale_str("Most denoising steps a member may ask for"),
        max_frames=locale_str("Most frames a member may ask for"),
        max_size=locale_str("Largest size: a size name, or WIDTHxHEIGHT"),
        reset=locale_str("Remove every limit of this scope (back to the server's, or the operator's)"),
    )
    async def limits(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | None = None,
        cooldown: app_commands.Range[float, 0, MAX_COOLDOWN_S] | None = None,
        max_steps: app_commands.Range[int, 1, 1000] | None = None,
        max_frames: app_commands.Range[int, 1, 1000] | None = None,
        max_size: app_commands.Range[str, 1, 40] | None = None,
        reset: bool = False,
    ) -> None:
        """Set (only what is given) or reset the cooldown and caps of the server or one channel."""
        async with self._acknowledged(interaction) as ack:
            operator = self._gatekeeper.operator
            for option, value, limit, setting in (
                ("max_steps", max_steps, operator.max_steps, "MAX_STEPS"),
                ("max_frames", max_frames, operator.max_frames, "MAX_FRAMES"),
            ):
                if value is not None and value > limit:
                    raise InvalidOptionError(
                        option,
                        str(value),
                        Text(
                            "at most {limit}, this bot's {setting}: a server can only tighten it",
                            limit=limit,
                            setting=setting,
                        ),
                    )
            given: dict[str, object] = {"cooldown_s": cooldown, "max_steps": max_steps, "max_frames": max_frames}
            if max_size is not None:
                given["max_size"] = await self._size(max_size)
            given = {name: value for name, value in given.items() if value is not None}

            def edit(rules: GuildRules) -> GuildRules:
                current = rules.server if channel is None else rules.channel(channel.id)
                limits = ScopeLimits() if reset else ScopeLimits.model_validate({**dict(current), **given})
                if channel is None:
                    return rules.updated(server=limits)
                return rules.with_channel(channel.id, limits)

            what = (
                Text("Limits for this server")
                if channel is None
                else Text("Limits for {where}", where=f"<#{channel.id}>")
            )
            await self._change(ack, edit, what)

    @app_commands.command(
        name="channels", description=locale_str("Channels where /video works (replaces the operator's list)")
    )
    @app_commands.describe(
        action=locale_str("allow or disallow a channel, or reset to the operator's list"),
        channel=locale_str("The channel"),
    )
    @app_commands.choices(action=_ACTIONS)
    async def channels(
        self, interaction: discord.Interaction[Any], action: str, channel: discord.TextChannel | None = None
    ) -> None:
        """Edit the server's allowed channels; threads follow their channel."""
        async with self._acknowledged(interaction) as ack:
            await self._change(ack, _listed_edit("allowed_channel_ids", action, channel), Text("Allowed channels"))

    @app_commands.command(
        name="roles", description=locale_str("Roles that may use /video (replaces the operator's list)")
    )
    @app_commands.describe(
        action=locale_str("allow or disallow a role, or reset to the operator's list"), role=locale_str("The role")
    )
    @app_commands.choices(action=_ACTIONS)
    async def roles(self, interaction: discord.Interaction[Any], action: str, role: discord.Role | None = None) -> None:
        """Edit the server's allowed roles."""
        async with self._acknowledged(interaction) as ack:
            await self._change(ack, _listed_edit("allowed_role_ids", action, role), Text("Allowed roles"))

    @app_commands.command(
        name="blocklist", description=locale_str("Add to or remove from the server's blocklist, or set its mode")
    )
    @app_commands.describe(
        add=locale_str("A word, phrase or re:REGEX refused in prompts, on top of the operator's list"),
        remove=locale_str("An entry of this server's to remove (the operator's cannot be)"),
        mode=locale_str("Where blocked prompts are refused"),
    )
    @app_commands.choices(mode=_MODES)
    async def blocklist(
        self,
        interaction: discord.Interaction[Any],
        add: app_commands.Range[str, 1, 200] | None = None,
        remove: app_commands.Range[str, 1, 200] | None = None,
        mode: str | None = None,
    ) -> None:
        """Edit the server's blocklist entries and mode."""
        async with self._acknowledged(interaction) as ack:
            if add is not None:
                try:
                    Blocklist.from_entries([add])
                except ValueError as error:
                    raise InvalidOptionError(
                        "add", f"“{add[:60]}”", Text("a word, a phrase or a valid re:REGEX ({error})", error=error)
                    ) from None

            def edit(rules: GuildRules) -> GuildRules:
                entries = [entry for entry in rules.blocklist if entry != remove]
                if remove is not None and len(entries) == len(rules.blocklist):
                    raise InvalidOptionError(
                        "remove", f"“{remove[:60]}”", Text("one of this server's entries (`/videoadmin rules show`)")
                    )
                if add is not None and add.strip() not in entries:
                    entries.append(add.strip())
                changed = rules.blocklist_mode if mode is None else BlocklistMode(mode)
                return rules.updated(blocklist=tuple(entries), blocklist_mode=changed)

            await self._change(ack, edit, Text("Blocklist"))

    @app_commands.command(name="quota", description=locale_str("Videos per member per day"))
    @app_commands.describe(
        videos=locale_str("Videos one member may make per day"),
        reset_hour=locale_str("Count per day from this hour (UTC); default: the last 24 hours"),
        unlimited=locale_str("No daily limit here"),
        reset=locale_str("Back to the operator's default"),
    )
    async def quota(
        self,
        interaction: discord.Interaction[Any],
        videos: app_commands.Range[int, 0, MAX_QUOTA] | None = None,
        reset_hour: app_commands.Range[int, 0, 23] | None = None,
        unlimited: bool = False,
        reset: bool = False,
    ) -> None:
        """Set the server's daily quota (a role perk may raise it for its members)."""
        async with self._acknowledged(interaction) as ack:
            if videos is None and not (unlimited or reset):
                raise InvalidOptionError("videos", "none", Text("a number of videos, or unlimited, or reset"))
            quota = None if reset else DailyQuota(videos=None if unlimited else videos, reset_hour=reset_hour)
            await self._change(ack, lambda rules: rules.updated(daily_quota=quota), Text("Daily quota"))

    @app_commands.command(
        name="perk", description=locale_str("What a role raises for its members: quota, jobs held, weight")
    )
    @app_commands.describe(
        role=locale_str("The role"),
        daily_quota=locale_str("Videos per day for its members"),
        max_held=locale_str("Jobs its members may have waiting or running at once"),
        weight=command_text(Text("Turns per round in the queue's fair order (1 to {most})", most=MAX_WEIGHT)),
        reset=locale_str("Remove this role's perk"),
    )
    async def perk(
        self,
        interaction: discord.Interaction[Any],
        role: discord.Role,
        daily_quota: app_commands.Range[int, 0, MAX_QUOTA] | None = None,
        max_held: app_commands.Range[int, 1, MAX_HELD] | None = None,
        weight: app_commands.Range[int, 1, MAX_WEIGHT] | None = None,
        reset: bool = False,
    ) -> None:
        """Set (only what is given) or remove a role's perk."""
        async with self._acknowledged(interaction) as ack:
            given = {"daily_quota": daily_quota, "max_held": max_held, "weight": weight}
            given = {name: value for name, value in given.items() if value is not None}

            def edit(rules: GuildRules) -> GuildRules:
                current = rules.perks.get(role.id, RolePerk())
                perk = RolePerk() if reset else RolePerk.model_validate({**dict(current), **given})
                return rules.with_perk(role.id, perk)

            await self._change(ack, edit, Text("Perk of {role}", role=f"<@&{role.id}>"))

    @app_commands.command(
        name="language", description=locale_str("The language of this server's public posts (finished videos)")
    )
    @app_commands.describe(
        language=locale_str("A shipped language, or Discord's server language (Server Settings → Community)")
    )
    @app_commands.choices(language=_LANGUAGES)
    async def language(self, interaction: discord.Interaction[Any], language: str) -> None:
        """Fix the language of the server's public posts, or follow Discord's server language again.

        Members' own replies and status messages stay in each member's language.
        """
        async with self._acknowledged(interaction) as ack:
            chosen = None if language == _FOLLOW else language
            await self._change(ack, lambda rules: rules.updated(language=chosen), Text("Language of public posts"))

    async def _change(self, ack: Acknowledgement, edit: Edit, what: Text) -> None:
        def checked(rules: GuildRules) -> GuildRules:
            try:
                return edit(rules)
            except ValidationError as error:
                problem = error.errors()[0]
                raise InvalidOptionError(
                    ".".join(map(str, problem["loc"])) or "rules", str(problem.get("input")), problem["msg"]
                ) from None

        interaction = ack.interaction
        guild_id = _guild(interaction)
        entries = await self._store.change(guild_id, interaction.user.id, self._clock.time(), checked)
        for entry in entries:
            audit_log.info(
                "rule changed guild_id=%s user_id=%s what=%r old=%r new=%r",
                guild_id,
                entry.user_id,
                entry.what,
                entry.old,
                entry.new,
            )
        # The changes are said as the audit trail stores them; the labels around them in the admin's language.
        say = speaker_for(interaction.locale).say
        lines = [f"{entry.what}: {entry.old} → {entry.new}" for entry in entries] or [say("nothing changed")]
        await ack.respond(content=f"{say(what)}: " + "; ".join(lines), ephemeral=True)

    async def _size(self, text: str) -> str:
        """WIDTHxHEIGHT from "320x192" or a size name of the default model."""
        if match := _SIZE.match(text):
            return f"{int(match[1])}x{int(match[2])}"
        size = await self._controls.size_named(text, None)
        return f"{size.width}x{size.height}"

    def _acknowledged(self, interaction: discord.Interaction[Any]) -> AbstractAsyncContextManager[Acknowledgement]:
        return acknowledged(interaction, self._clock, Deferral.EPHEMERAL)


def audit_command(gatekeeper: Gatekeeper, clock: Clock) -> app_commands.Command[Any, Any, None]:
    """`/videoadmin audit`: the server's last rule changes, newest first."""

    async def admins_only(interaction: discord.Interaction[Any]) -> bool:
        if not gatekeeper.is_admin(interaction):
            raise NotAdminError(_NOT_ADMIN)
        return True

    @app_commands.command(
        name="audit", description=locale_str("The last changes to this server's rules: who, when, old → new")
    )
    @app_commands.describe(count=command_text(Text("How many (default {count})", count=AUDIT_SHOWN)))
    @app_commands.check(admins_only)
    async def audit(interaction: discord.Interaction[Any], count: app_commands.Range[int, 1, 25] = AUDIT_SHOWN) -> None:
        async with acknowledged(interaction, clock, Deferral.EPHEMERAL) as ack:
            entries = await gatekeeper.rules_store.audit(_guild(interaction), count)
            speaker = speaker_for(interaction.locale)
            say = speaker.say
            text = "\n".join(audit_line(entry, speaker) for entry in entries) or say("No rule has been changed yet.")
            embed = discord.Embed(title=say("Rule changes"), description=text[:4096])
            await ack.respond(embed=embed, ephemeral=True)

    return audit


def _listed_edit(field: str, action: str, target: Any) -> Edit:
    """An edit of one of the allow-lists: add or remove `target`, or back to the operator's (None)."""
    if action != "reset" and target is None:
        raise InvalidOptionError(
            "channel" if "channel" in field else "role",
            "none",
            Text("one to allow") if action == "allow" else Text("one to disallow"),
        )

    def edit(rules: GuildRules) -> GuildRules:
        if action == "reset":
            return rules.updated(**{field: None})
        current: frozenset[int] = getattr(rules, field) or frozenset()
        changed = current | {target.id} if action == "allow" else current - {target.id}
        # An empty list would mean "everywhere": disallowing the last one goes back to the operator's.
        return rules.updated(**{field: changed or None})

    return edit


def _guild(interaction: discord.Interaction[Any]) -> int:
    if interaction.guild_id is None:
        raise NotAdminError(Text("Rules belong to a server: use this command in one."))
    return interaction.guild_id
