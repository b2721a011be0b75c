"""`/video` options: Discord-native ranges and choices, prompt flags, and errors that say what is allowed."""

from __future__ import annotations

from typing import Any

from tests.fixtures.bot import StartBot, embed_text, ephemeral_reply, finished


def option(command: dict[str, Any], name: str) -> dict[str, Any]:
    return next(opt for opt in command["options"] if opt["name"] == name)


async def test_options_are_synced_with_this_servers_ranges_and_size_choices(start_bot: StartBot) -> None:
    running = await start_bot(max_steps=40, max_frames=24)

    command = next(c for c in running.emulator.commands(running.guild) if c["name"] == "video")

    assert option(command, "prompt")["required"] is True
    assert (option(command, "steps")["min_value"], option(command, "steps")["max_value"]) == (1, 40)
    assert option(command, "frames")["max_value"] == 24
    assert [choice["value"] for choice in option(command, "size")["choices"]] == ["tiny", "small"]
    assert {"negative_prompt", "seed", "guidance", "fps"} <= {opt["name"] for opt in command["options"]}


async def test_slash_options_reach_the_generator(start_bot: StartBot) -> None:
    running = await start_bot()
    options = {
        "prompt": "a fox",
        "seed": 7,
        "steps": 4,
        "frames": 6,
        "guidance": 5.5,
        "fps": 12,
        "size": "small",
    }

    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", options)

    message = await finished(running.emulator, interaction)
    request = running.generator.calls[0][0]  # type: ignore[attr-defined]
    assert (request.seed, request.steps, request.num_frames, request.guidance_scale, request.fps) == (
        7,
        4,
        6,
        5.5,
        12,
    )
    assert (request.width, request.height) == (128, 64)
    assert "seed 7 · 4 steps · 6 frames @ 12 fps · 128×64 · guidance 5.5" in embed_text(message)


async def test_pika_style_flags_in_the_prompt_set_options(start_bot: StartBot) -> None:
    running = await start_bot()

    interaction = await running.emulator.invoke_slash(
        running.alice,
        running.channel,
        "video",
        {"prompt": 'a fox -neg "blurry, dark" -seed 42 -fps 12 -gs 9'},
    )

    await finished(running.emulator, interaction)
    request = running.generator.calls[0][0]  # type: ignore[attr-defined]
    assert request.prompt == "a fox"
    assert (request.negative_prompt, request.seed, request.fps, request.guidance_scale) == (
        "blurry, dark",
        42,
        12,
        9.0,
    )


async def test_a_flag_beyond_this_servers_limit_gets_an_ephemeral_error_naming_the_range(
    start_bot: StartBot,
) -> None:
    running = await start_bot(max_steps=40)

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a fox -steps 80"}
    )

    assert await ephemeral_reply(interaction) == "steps must be between 1 and 40 on this server (got 80)"
    assert running.generator.calls == []  # type: ignore[attr-defined]


async def test_an_unknown_flag_is_refused_with_the_known_ones(start_bot: StartBot) -> None:
    running = await start_bot()

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a fox --sede 4"}
    )

    reply = await ephemeral_reply(interaction)
    assert "--sede" in reply
    assert "-seed" in reply


async def test_a_slash_option_and_a_flag_that_disagree_are_refused(start_bot: StartBot) -> None:
    running = await start_bot()

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a fox -seed 1", "seed": 2}
    )

    assert "seed is set twice" in await ephemeral_reply(interaction)


async def test_channel_defaults_set_by_an_admin_apply_to_new_videos(start_bot: StartBot) -> None:
    running = await start_bot()
    emulator = running.emulator
    admin = emulator.add_user("admin")
    emulator.add_member(running.guild, admin, permissions=1 << 5)  # Manage Server

    setting = await emulator.invoke_slash(
        admin, running.channel, "videoadmin defaults", {"scope": "channel", "steps": 7, "fps": 10}
    )
    assert "saved" in await ephemeral_reply(setting)
    interaction = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a fox"})

    await finished(emulator, interaction)
    request = running.generator.calls[0][0]  # type: ignore[attr-defined]
    assert (request.steps, request.fps) == (7, 10)


async def test_defaults_outside_this_servers_limits_are_refused_and_not_saved(start_bot: StartBot) -> None:
    running = await start_bot(max_steps=40)
    emulator = running.emulator
    admin = emulator.add_user("admin")
    emulator.add_member(running.guild, admin, permissions=1 << 5)  # Manage Server

    setting = await emulator.invoke_slash(
        admin, running.channel, "videoadmin defaults", {"scope": "server", "steps": 80, "fps": 10}
    )

    assert await ephemeral_reply(setting) == "steps must be between 1 and 40 on this server (got 80)"
    interaction = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a fox"})
    await finished(emulator, interaction)
    request = running.generator.calls[0][0]  # type: ignore[attr-defined]
    assert request.fps != 10
