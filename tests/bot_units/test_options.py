"""Merging slash options, prompt flags and defaults into one request, within this server's limits."""

from __future__ import annotations

import pytest

from bot.errors import InvalidOptionError, OptionConflictError
from bot.intake.options import (
    SIZES,
    AspectRatio,
    ChannelDefaults,
    OptionOverrides,
    ParsedPrompt,
    RequestLimits,
    VideoSize,
    build_request,
    check_defaults,
    recheck_request,
    size_named,
)
from bot.intake.prompt_flags import parse_prompt_flags
from generation.request import VideoRequest

LIMITS = RequestLimits(max_steps=50, max_frames=32, max_guidance=20.0, max_fps=24)
NONE = OptionOverrides()


def _build(
    text: str = "a cat",
    explicit: OptionOverrides = NONE,
    defaults: tuple[ChannelDefaults, ...] = (),
    limits: RequestLimits = LIMITS,
) -> VideoRequest:
    return build_request(parse_prompt_flags(text), explicit, defaults, limits)


def _message(text: str = "a cat", explicit: OptionOverrides = NONE, defaults: tuple[ChannelDefaults, ...] = ()) -> str:
    with pytest.raises((InvalidOptionError, OptionConflictError)) as caught:
        _build(text, explicit, defaults)
    return str(caught.value)


def test_the_prompt_reaches_the_request_without_its_flags() -> None:
    request = _build('a cat -neg "blurry" -seed 3')
    assert (request.prompt, request.negative_prompt, request.seed) == ("a cat", "blurry", 3)


@pytest.mark.parametrize(
    ("slash", "flag", "channel", "server", "expected"),
    [
        (10, None, 30, 40, 10),
        (None, "-steps 20", 30, 40, 20),
        (None, "", 30, 40, 30),
        (None, "", None, 40, 40),
        (None, "", None, None, 25),
        (12, "-steps 12", 30, 40, 12),
    ],
    ids=["slash", "flag", "channel", "server", "engine", "slash-and-flag-agree"],
)
def test_the_most_specific_source_of_an_option_wins(
    slash: int | None, flag: str, channel: int | None, server: int | None, expected: int
) -> None:
    defaults = (
        ChannelDefaults(steps=channel, scope="channel"),
        ChannelDefaults(steps=server, scope="server"),
    )
    request = _build(f"a cat {flag}", OptionOverrides(steps=slash), defaults)
    assert request.steps == expected


def test_each_field_is_taken_from_its_own_highest_source() -> None:
    defaults = (ChannelDefaults(fps=12, steps=40),)
    request = _build("a cat -frames 8", OptionOverrides(steps=20), defaults)
    assert (request.steps, request.num_frames, request.fps) == (20, 8, 12)


def test_engine_defaults_are_clamped_into_narrower_server_limits() -> None:
    request = _build(limits=RequestLimits(max_steps=10, max_frames=8, max_guidance=5.0, max_fps=4))
    assert (request.steps, request.num_frames, request.guidance_scale, request.fps) == (10, 8, 5.0, 4)


def test_the_first_allowed_size_is_the_default_size() -> None:
    request = _build(limits=RequestLimits(sizes=(SIZES[1], SIZES[0])))
    assert (request.width, request.height) == (320, 192)


@pytest.mark.parametrize(
    ("explicit", "flag", "message"),
    [
        (
            OptionOverrides(steps=30),
            "-steps 40",
            "steps is set twice with different values: the steps option says 30 but the prompt says 40; "
            "remove one of them",
        ),
        (OptionOverrides(num_frames=8), "-frames 16", "frames is set twice"),
        (OptionOverrides(guidance_scale=7.5), "-gs 9", "the guidance option says 7.5 but the prompt says 9"),
        (
            OptionOverrides(negative_prompt="ugly"),
            "-neg blurry",
            "the negative_prompt option says “ugly” but the prompt says",
        ),
        (OptionOverrides(seed=1), "-seed 2", "seed is set twice"),
        (OptionOverrides(fps=8), "-fps 12", "fps is set twice"),
        (
            OptionOverrides(width=448, height=256),
            "-ar 4:3",
            "the size option says 448×256 but the prompt says -ar 4:3 (320×192)",
        ),
        (
            OptionOverrides(width=448, height=256),
            "-size 256x256",
            "the size option says 448×256 but the prompt says 256×256",
        ),
    ],
)
def test_a_slash_option_and_a_flag_that_disagree_are_refused_naming_both(
    explicit: OptionOverrides, flag: str, message: str
) -> None:
    assert message in _message(f"a cat {flag}", explicit)


def test_an_aspect_ratio_agreeing_with_the_chosen_size_is_no_conflict() -> None:
    request = _build("a cat -ar 16:9", OptionOverrides(width=448, height=256))
    assert (request.width, request.height) == (448, 256)


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", "square"),
        ("16:9", "wide"),
        ("21:9", "wide"),
        ("9:16", "tall"),
        ("4:3", "landscape"),
        ("5:3", "landscape"),
        ("3:4", "portrait"),
        ("1.1:1", "square"),
    ],
)
def test_an_aspect_ratio_becomes_the_nearest_allowed_size(ratio: str, size: str) -> None:
    request = _build(f"a cat -ar {ratio}")
    assert (request.width, request.height) == (size_named(size).width, size_named(size).height)


def test_an_aspect_ratio_is_resolved_against_this_servers_sizes_only() -> None:
    request = _build("a cat -ar 16:9", limits=RequestLimits(sizes=(SIZES[0], SIZES[1])))
    assert (request.width, request.height) == (320, 192)


def test_nearest_size_is_judged_by_shape_not_by_difference_of_ratios() -> None:
    # 1:2 and 2:1 are equally far from square; the first listed of equals wins.
    sizes = (VideoSize("a", 256, 512), VideoSize("b", 512, 256))
    assert AspectRatio(1, 1).nearest(sizes) == sizes[0]
    assert AspectRatio(2, 1.01).nearest(sizes) == sizes[1]


@pytest.mark.parametrize(
    ("text", "explicit", "message"),
    [
        ("a cat -steps 80", NONE, "steps must be between 1 and 50 on this server (got 80)"),
        ("a cat", OptionOverrides(steps=0), "steps must be between 1 and 50 on this server (got 0)"),
        ("a cat -frames 40", NONE, "frames must be between 1 and 32 on this server (got 40)"),
        (
            "a cat",
            OptionOverrides(guidance_scale=25.5),
            "guidance must be between 0 and 20 on this server (got 25.5)",
        ),
        ("a cat -fps 30", NONE, "fps must be between 1 and 24 on this server (got 30)"),
        (
            "a cat -size 320x200",
            NONE,
            "size must be one of square 256×256, landscape 320×192, portrait 192×320, wide 448×256, "
            "tall 256×448 on this server (got 320×200)",
        ),
    ],
)
def test_values_beyond_this_servers_limits_are_refused_with_the_users_option_name(
    text: str, explicit: OptionOverrides, message: str
) -> None:
    assert _message(text, explicit) == message


def test_a_default_beyond_the_limits_says_it_came_from_the_defaults() -> None:
    message = _message(defaults=(ChannelDefaults(steps=80, scope="server"),))
    assert message == (
        "steps must be between 1 and 50 on this server (got 80 from the server defaults, which an admin can change)"
    )


@pytest.mark.parametrize(
    ("text", "explicit", "message"),
    [
        ("a cat", OptionOverrides(seed=2**32), "seed must be between 0 and 4294967295 (got 4294967296)"),
        ("-seed 4", NONE, "prompt must be some text describing the video (got “”)"),
        (
            "a cat",
            OptionOverrides(negative_prompt="x" * 1001),
            "negative_prompt must be at most 1000 characters (got “xx",
        ),
    ],
)
def test_engine_refusals_are_rephrased_with_the_users_option_name(
    text: str, explicit: OptionOverrides, message: str
) -> None:
    assert _message(text, explicit).startswith(message)


def test_an_engine_refusal_of_a_default_says_it_came_from_the_defaults() -> None:
    message = _message(defaults=(ChannelDefaults(negative_prompt="x" * 1001),))
    assert message.endswith("from the channel defaults, which an admin can change)")


def test_a_prompt_that_was_not_parsed_for_flags_is_used_verbatim() -> None:
    request = build_request(ParsedPrompt("a cat -seed 4"), NONE, (), LIMITS)
    assert (request.prompt, request.seed) == ("a cat -seed 4", None)


def test_size_names_are_the_choice_values_and_labels_their_text() -> None:
    assert [(size.name, size.label) for size in SIZES] == [
        ("square", "square 256×256"),
        ("landscape", "landscape 320×192"),
        ("portrait", "portrait 192×320"),
        ("wide", "wide 448×256"),
        ("tall", "tall 256×448"),
    ]


def test_an_unknown_size_name_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(InvalidOptionError, match=r"^size must be one of square 256×256, .* \(got “huge”\)$"):
        size_named("huge")


def test_a_size_that_is_not_a_multiple_of_eight_cannot_be_listed() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        VideoSize("odd", 250, 256)


def test_width_and_height_are_given_together_or_not_at_all() -> None:
    with pytest.raises(ValueError, match="together"):
        OptionOverrides(width=256)


@pytest.mark.parametrize(
    "limits",
    [{"max_steps": 151}, {"max_frames": 0}, {"max_guidance": 31.0}, {"max_fps": 61}, {"sizes": ()}],
)
def test_server_limits_must_lie_within_the_engines_bounds(limits: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must be|at least one size"):
        RequestLimits(**limits)  # type: ignore[arg-type]


def test_options_as_users_name_them_map_onto_request_fields() -> None:
    size = size_named("landscape")

    built = OptionOverrides.from_options(frames=24, guidance=7.5, size=size, seed=3)

    assert built == OptionOverrides(num_frames=24, guidance_scale=7.5, width=320, height=192, seed=3)


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        (ChannelDefaults(steps=80), "steps must be between 1 and 50 on this server (got 80)"),
        (ChannelDefaults(num_frames=0), "frames must be between 1 and 32 on this server (got 0)"),
        (ChannelDefaults(guidance_scale=25.5), "guidance must be between 0 and 20 on this server (got 25.5)"),
        (ChannelDefaults(fps=30), "fps must be between 1 and 24 on this server (got 30)"),
        (ChannelDefaults(negative_prompt="x" * 1001), "negative_prompt must be at most 1000 characters"),
    ],
)
def test_defaults_a_video_could_never_use_are_refused_with_the_users_option_name(
    defaults: ChannelDefaults, message: str
) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        check_defaults(defaults, LIMITS)
    assert str(caught.value).startswith(message)


def test_defaults_within_this_servers_limits_pass_the_check() -> None:
    check_defaults(
        ChannelDefaults(steps=50, num_frames=32, guidance_scale=20.0, fps=24, negative_prompt="blur"), LIMITS
    )


def test_a_request_rechecked_under_the_limits_it_was_made_under_is_unchanged() -> None:
    request = _build('a cat -neg "fog" -seed 9 -steps 12 -frames 8 -gs 6.5 -fps 10 -size 448x256')

    assert recheck_request(request, LIMITS) == request
