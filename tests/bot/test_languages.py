"""The member's language: commands sync with their descriptions in every shipped language, and a
member whose Discord app is set to German, Japanese or French is answered in it (English otherwise)."""

from __future__ import annotations

from typing import Any

from bot.discord_io.command_cache import JUST_UPDATED
from bot.i18n import speaker_for
from generation.profiles import SEED
from tests.discord_emulator.models import Message, User
from tests.fixtures.bot import RunningBot, StartBot, embed_text, ephemeral_reply, finished

SHIPPED_DISCORD_LOCALES = ("de", "fr", "es-ES", "pt-BR", "ja")
#: Discord's locales that get a shipped catalogue: Latin American Spanish reads Spain's rather than English.
LOCALIZED = (*SHIPPED_DISCORD_LOCALES, "es-419")


def button_labels(message: Message) -> list[str]:
    """The labels of the buttons on `message`, in order."""
    return [component["label"] for row in message.components for component in row.get("components", [])]


def member(running: RunningBot, name: str, locale: str) -> User:
    """A new member of the test's server whose Discord app is set to `locale`."""
    user = running.emulator.add_user(name, locale=locale)
    running.emulator.add_member(running.guild, user)
    return user


def video_command(running: RunningBot) -> dict[str, Any]:
    return next(command for command in running.emulator.commands(running.guild) if command["name"] == "video")


async def test_commands_sync_with_their_descriptions_in_every_shipped_language(start_bot: StartBot) -> None:
    running = await start_bot()

    video = video_command(running)

    assert video["description_localizations"] == {
        locale: speaker_for(locale).say("Turn a prompt into a short video") for locale in LOCALIZED
    }
    assert video["description_localizations"]["de"] == "Einen Prompt in ein kurzes Video verwandeln"
    assert video["description_localizations"]["es-ES"] == "Convierte un prompt en un vídeo corto"
    prompt = next(option for option in video["options"] if option["name"] == "prompt")
    assert set(prompt["description_localizations"]) == set(LOCALIZED)
    assert prompt["description_localizations"]["ja"].startswith("動画の内容")


async def test_the_size_menu_names_the_models_sizes_in_every_language_and_an_admins_own_as_written(
    start_bot: StartBot,
) -> None:
    running = await start_bot(video_sizes=["landscape:128x64", "tiny:64x64"])

    size = next(option for option in video_command(running)["options"] if option["name"] == "size")

    landscape, tiny = size["choices"]
    assert landscape["name"] == "landscape 128×64"
    assert landscape["name_localizations"]["de"] == "Querformat 128×64"
    assert landscape["name_localizations"]["ja"] == "横長 128×64"
    assert tiny["name"] == "tiny 64×64"
    assert not tiny.get("name_localizations")


async def test_command_and_option_names_stay_english_in_every_language(start_bot: StartBot) -> None:
    running = await start_bot()

    for command in running.emulator.commands(running.guild):
        assert not command.get("name_localizations")
        assert all(not option.get("name_localizations") for option in command.get("options") or [])


async def test_a_german_member_in_a_german_server_gets_the_status_result_and_buttons_in_german(
    start_bot: StartBot,
) -> None:
    running = await start_bot()
    running.guild.locale = "de"
    hans = member(running, "hans", "de")

    interaction = await running.emulator.invoke_slash(hans, running.channel, "video", {"prompt": "a kite -seed 3"})

    await interaction.wait_for_response()
    assert interaction.original is not None
    assert "⏳ In der Warteschlange" in embed_text(interaction.original)
    assert "Angefordert von" in embed_text(interaction.original)
    assert button_labels(interaction.original) == ["Abbrechen"]
    done = await finished(running.emulator, interaction)
    assert "✅ Fertig" in embed_text(done)
    assert button_labels(done) == ["Neu würfeln", "Remixen", "Info", "Löschen"]


async def test_a_japanese_member_in_a_japanese_server_gets_the_result_and_buttons_in_japanese(
    start_bot: StartBot,
) -> None:
    running = await start_bot()
    running.guild.locale = "ja"
    yuki = member(running, "yuki", "ja")

    interaction = await running.emulator.invoke_slash(yuki, running.channel, "video", {"prompt": "a kite -seed 3"})

    done = await finished(running.emulator, interaction)
    assert "✅ 完成" in embed_text(done)
    assert "シード 3 ·" in embed_text(done)
    assert button_labels(done) == ["再生成", "リミックス", "情報", "削除"]


async def test_a_member_and_server_whose_language_has_no_catalogue_get_english(start_bot: StartBot) -> None:
    running = await start_bot()
    running.guild.locale = "sv-SE"
    olaf = member(running, "olaf", "sv-SE")

    interaction = await running.emulator.invoke_slash(olaf, running.channel, "video", {"prompt": "a kite -seed 3"})

    done = await finished(running.emulator, interaction)
    assert "✅ Done" in embed_text(done)
    assert button_labels(done) == ["Re-roll", "Remix", "Info", "Delete"]


async def test_a_german_member_reads_why_their_video_failed_in_german(start_bot: StartBot) -> None:
    running = await start_bot()
    hans = member(running, "hans", "de")

    # The fake generator runs out of GPU memory on "OOM", and says so as the real engine does.
    interaction = await running.emulator.invoke_slash(hans, running.channel, "video", {"prompt": "OOM -seed 3"})

    await interaction.wait_for_response()
    await running.emulator.wait_for(lambda: "Fehlgeschlagen" in embed_text(interaction.original))
    failed = embed_text(interaction.original)
    assert "Grund" in failed
    assert "der GPU ging der Speicher aus für 1 ×" in failed
    assert "versuche weniger Frames oder eine kleinere Größe" in failed


async def test_a_german_member_reads_the_queue_in_german(start_bot: StartBot) -> None:
    running = await start_bot()
    hans = member(running, "hans", "de")

    interaction = await running.emulator.invoke_slash(hans, running.channel, "queue")

    assert "Die Warteschlange ist leer" in await ephemeral_reply(interaction)


async def test_a_french_member_gets_a_refusal_with_its_values_in_french(start_bot: StartBot) -> None:
    running = await start_bot()
    amelie = member(running, "amelie", "fr")

    interaction = await running.emulator.invoke_slash(
        amelie, running.channel, "video", {"prompt": "a kite -seed 3", "seed": 4}
    )

    assert await ephemeral_reply(interaction) == (
        "seed est défini deux fois avec des valeurs différentes : l'option seed indique 4 mais le prompt "
        "indique 3 ; retire l'un des deux"
    )
    assert await running.queue.active() == []


def with_a_style_option(command: dict[str, Any]) -> dict[str, Any]:
    """/video as a client cached it from a version that had a `style` option."""
    command["options"].append({"type": 3, "name": "style", "description": "A style"})
    return command


async def test_the_error_handler_answers_a_french_member_in_french(start_bot: StartBot) -> None:
    running = await start_bot()
    amelie = member(running, "amelie", "fr")

    interaction = await running.emulator.invoke_outdated_slash(
        amelie, running.channel, "video", {"prompt": "a kite", "style": "noir"}, with_a_style_option
    )

    reply = await ephemeral_reply(interaction)
    assert reply == speaker_for("fr").say(JUST_UPDATED)
    assert reply.startswith("Cette commande vient d'être mise à jour")


async def test_a_german_member_is_told_the_allowed_range_in_german(start_bot: StartBot) -> None:
    running = await start_bot(max_steps=30)
    hans = member(running, "hans", "de")

    interaction = await running.emulator.invoke_slash(hans, running.channel, "video", {"prompt": "a kite -steps 40"})

    assert await ephemeral_reply(interaction) == "steps muss auf diesem Server zwischen 1 und 30 sein (erhalten: 40)"


async def test_a_japanese_member_is_told_a_flags_mistake_in_japanese(start_bot: StartBot) -> None:
    running = await start_bot()
    yuki = member(running, "yuki", "ja")

    interaction = await running.emulator.invoke_slash(yuki, running.channel, "video", {"prompt": "a kite -seed abc"})

    assert await ephemeral_reply(interaction) == "-seed には42 のような整数を指定してください（指定値：“abc”）"


async def test_the_model_menu_names_each_models_kind_in_the_members_language(start_bot: StartBot) -> None:
    running = await start_bot()
    yuki = member(running, "yuki", "ja")

    typed = await running.emulator.autocomplete(
        yuki, running.channel, "video", {"prompt": "a kite", "model": ""}, "model"
    )

    callback = await typed.wait_for_response()
    assert callback.data is not None
    assert callback.data["choices"] == [{"name": f"{SEED.name}（テキスト → 動画）", "value": SEED.name}]
