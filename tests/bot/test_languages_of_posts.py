"""Whose language, through the emulator on both backends: a member's own replies (`/quota`, refusals,
`/videoadmin` for an admin) in their app's language; a public result post in the server's language,
Discord's or the one its admins fixed with `/videoadmin rules language`."""

from __future__ import annotations

import math
from typing import Any

from bot.i18n import speaker_for
from generation.queue.allowance import DAY_S
from tests.discord_emulator.models import Message, User
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import RunningBot, StartBot, embed_text, ephemeral_reply, finished

MANAGE_GUILD = 1 << 5


def member(running: RunningBot, name: str, locale: str, permissions: int | None = None) -> User:
    """A new member of the test's server whose Discord app is set to `locale`."""
    user = running.emulator.add_user(name, locale=locale)
    running.emulator.add_member(running.guild, user, permissions=permissions)
    return user


async def says(running: RunningBot, user: User, command: str, options: dict[str, Any] | None = None) -> str:
    """The ephemeral answer `user` gets to `/command` in #general."""
    return await ephemeral_reply(await running.emulator.invoke_slash(user, running.channel, command, options or {}))


async def result_post(running: RunningBot, user: User, prompt: str) -> Message:
    """The public post of `user`'s finished `/video`."""
    return await finished(
        running.emulator, await running.emulator.invoke_slash(user, running.channel, "video", {"prompt": prompt})
    )


async def test_a_german_member_reads_their_quota_in_german(start_bot: StartBot) -> None:
    running = await start_bot(daily_quota=2)
    hans = member(running, "hans", "de")
    first_asked = running.clock.time()
    await result_post(running, hans, "a heron")

    shown = await says(running, hans, "quota")

    frees = math.ceil(first_asked + DAY_S)
    assert "Videos heute: **1** von **2** genutzt, **1** übrig." in shown
    assert f"Ein weiteres wird <t:{frees}:R> frei (um <t:{frees}:t>)." in shown


async def test_a_german_member_is_refused_for_quota_in_german(start_bot: StartBot) -> None:
    running = await start_bot(daily_quota=1)
    hans = member(running, "hans", "de")
    await result_post(running, hans, "a heron")

    refusal = await says(running, hans, "video", {"prompt": "a second heron"})

    assert refusal.startswith("Du hast heute 1 von 1 Videos gemacht. Dein nächstes Video geht <t:")


async def test_an_admin_whose_app_is_french_runs_videoadmin_in_french(start_bot: StartBot) -> None:
    running = await start_bot()
    camille = member(running, "camille", "fr", permissions=MANAGE_GUILD)

    paused = await says(running, camille, "videoadmin pause")
    changed = await says(running, camille, "videoadmin rules limits", {"cooldown": 30})
    shown = await says(running, camille, "videoadmin rules show")

    assert paused == "File en pause. `/videoadmin resume` la relance."
    # The change itself is said as the audit trail stores it; the words around it in French.
    assert changed == "Limites pour ce serveur: server cooldown: not set → 30 s"
    assert "**Délai entre deux vidéos**: 30 s · règle du serveur" in shown
    assert "**Langue des messages publics**: Langue du serveur dans Discord · valeur par défaut de l'opérateur" in (
        shown
    )


async def test_a_member_who_is_not_an_admin_is_refused_videoadmin_in_their_language(start_bot: StartBot) -> None:
    running = await start_bot()
    yuki = member(running, "yuki", "ja")

    refusal = await says(running, yuki, "videoadmin pause")

    assert refusal == speaker_for("ja").say(
        "Only members with Manage Server or the bot admin role can use /videoadmin."
    )
    assert refusal.startswith("/videoadmin を使えるのは")


async def test_a_japanese_member_on_cooldown_is_refused_in_japanese(start_bot: StartBot) -> None:
    running = await start_bot(cooldown_s=60)
    yuki = member(running, "yuki", "ja")
    await result_post(running, yuki, "a kite")

    refusal = await says(running, yuki, "video", {"prompt": "another kite"})

    assert refusal == "少し待ってください。次の動画は60秒後に作れます。"


async def test_the_result_post_follows_the_servers_language_and_the_members_replies_their_own(
    start_bot: StartBot,
) -> None:
    running = await start_bot()
    running.guild.locale = "pt-BR"
    hans = member(running, "hans", "de")

    interaction = await running.emulator.invoke_slash(hans, running.channel, "video", {"prompt": "a kite -seed 3"})
    await interaction.wait_for_response()
    assert interaction.original is not None
    assert "⏳ In der Warteschlange" in embed_text(interaction.original)  # his own status message
    done = await finished(running.emulator, interaction)
    queue = await says(running, hans, "queue")

    assert "✅ Pronto" in embed_text(done)
    assert "Pedido por" in embed_text(done)
    assert "Die Warteschlange ist leer" in queue


async def test_the_servers_language_rule_overrides_discords_and_following_discord_again_resets_it(
    start_bot: StartBot,
) -> None:
    running = await start_bot()
    running.guild.locale = "pt-BR"
    admin = member(running, "admin", "en-US", permissions=MANAGE_GUILD)
    hans = member(running, "hans", "de")

    set_to = await says(running, admin, "videoadmin rules language", {"language": "ja"})
    in_japanese = await result_post(running, hans, "a kite -seed 3")
    shown = await says(running, admin, "videoadmin rules show")
    await says(running, admin, "videoadmin rules language", {"language": "discord"})
    in_portuguese = await result_post(running, hans, "a kite -seed 4")
    audit = await says(running, admin, "videoadmin audit")

    assert set_to == "Language of public posts: server language: not set → ja"
    assert "✅ 完成" in embed_text(in_japanese)
    assert "**Language of public posts**: 日本語 · server rule" in shown
    assert "✅ Pronto" in embed_text(in_portuguese)
    assert "server language: ja → not set" in audit
    assert "server language: not set → ja" in audit


async def test_videoadmin_and_quota_sync_with_their_descriptions_in_every_shipped_language(
    start_bot: StartBot,
) -> None:
    running = await start_bot()

    commands = {command["name"]: command for command in running.emulator.commands(running.guild)}
    videoadmin = commands["videoadmin"]
    rules = next(option for option in videoadmin["options"] if option["name"] == "rules")
    language = next(option for option in rules["options"] if option["name"] == "language")
    follow, *languages = language["options"][0]["choices"]

    assert videoadmin["description_localizations"]["de"] == "Verwaltung des Video-Bots"
    assert commands["quota"]["description_localizations"]["ja"] == "今日あと何本動画を作れるか"
    assert (
        language["description_localizations"]["fr"] == "La langue des messages publics de ce serveur (vidéos terminées)"
    )
    assert (follow["value"], follow["name_localizations"]["pt-BR"]) == ("discord", "Idioma do servidor no Discord")
    assert [choice["value"] for choice in languages] == ["en-US", "de", "fr", "es-ES", "pt-BR", "ja"]


async def test_after_a_restart_the_notice_is_in_the_members_language_and_the_post_in_the_servers_of_the_request(
    start_bot: StartBot,
) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator, shutdown_grace_s=0)
    running.guild.locale = "pt-BR"
    hans = member(running, "hans", "de")
    job = await running.emulator.invoke_slash(hans, running.channel, "video", {"prompt": "a kite -steps 30"})
    await job.wait_for_response()
    await generator.steps.arrived(1)
    await running.bot.close()  # no grace: the running job is put back in line
    running.guild.locale = "en-US"  # what the job was asked under is what it keeps

    held = FakeGenerator(hold_steps=True)
    await start_bot(held)

    # The status message posted anew (queued again, then generating) is his, so in German.
    await running.emulator.wait_for_message(
        channel_id=running.channel.id, predicate=lambda message: "Angefordert von" in embed_text(message)
    )
    held.steps.open()
    delivered = await running.emulator.wait_for_message(
        channel_id=running.channel.id, predicate=lambda message: bool(message.attachments)
    )
    assert "✅ Pronto" in embed_text(delivered)
