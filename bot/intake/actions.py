"""What users can do to jobs: submit, re-roll, remix, extend, inspect, cancel, delete.

Slash commands and buttons both land here, so a button after a restart behaves exactly like the
command it mirrors: the job is looked up by the id in the button, and the same checks apply.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import discord

from bot.discord_io import render
from bot.discord_io.acknowledgement import Acknowledgement, AnswerTurns, Deferral, acknowledged
from bot.discord_io.error_handler import report_error
from bot.discord_io.sanitize import display_prompt
from bot.discord_io.views import JobAction, RemixSubmission, extend_form, remix_form
from bot.errors import InvalidOptionError
from bot.i18n import Speaker, Text, marked, speaker_for
from bot.intake.channel_defaults import ChannelDefaultsStore
from bot.intake.extension import animating_model, copy_to_extend, extension_prompt, kept_settings, video_to_extend
from bot.intake.image_input import copy_image, discard_image, store_attachment
from bot.intake.options import (
    ChannelDefaults,
    OptionOverrides,
    ParsedPrompt,
    PreparedRequest,
    prepare_request,
    recheck_request,
    size_named,
)
from bot.intake.prompt_flags import parse_prompt_flags
from bot.intake.rule_limits import narrowed
from bot.intake.served_models import ServedModels
from bot.intake.submission import Submitter
from bot.moderation.gatekeeper import Gatekeeper
from bot.moderation.limits import MemberLimits, allowance_for
from bot.moderation.precedence import EffectiveRules
from generation.clock import Clock
from generation.conditioning import ImageLimits
from generation.errors import JobNotFoundError
from generation.profiles import ModelProfile
from generation.queue.allowance import QuotaUsage
from generation.queue.interface import JobInfo, JobQueue, JobStatus, Person, ServedModel
from generation.request import VideoRequest

log = logging.getLogger(__name__)


def prompt_with_flags(request: VideoRequest) -> str:
    """The prompt followed by flags that reproduce every other setting except the seed."""
    return (
        f"{request.prompt} -steps {request.steps} -frames {request.num_frames} -fps {request.fps} "
        f"-gs {request.guidance_scale:g} -size {request.width}x{request.height}"
    )


class JobActions:
    """Entry points shared by commands, buttons and forms."""

    def __init__(
        self,
        queue: JobQueue,
        submitter: Submitter,
        gatekeeper: Gatekeeper,
        channel_defaults: ChannelDefaultsStore,
        models: ServedModels,
        clock: Clock,
        *,
        default_steps: int,
        image_limits: ImageLimits,
        output_dir: Path,
    ) -> None:
        self._queue = queue
        self._submitter = submitter
        self._gatekeeper = gatekeeper
        self._channel_defaults = channel_defaults
        self._models = models
        self._clock = clock
        self._default_steps = default_steps
        self._image_limits = image_limits
        self._output_dir = output_dir
        # One line for every request of this bot: a burst is answered in the order it arrived.
        self._turns = AnswerTurns()

    async def submit_new(
        self,
        interaction: discord.Interaction[Any],
        parsed: ParsedPrompt,
        explicit: OptionOverrides,
        attachment: discord.Attachment | None = None,
        *,
        model: str | None = None,
        size: str | None = None,
        image_of: VideoRequest | None = None,
    ) -> None:
        """Validate a new request from the user and queue it on `model` (None: the defaults' choice).

        `size` is a size name of the chosen model's. The picture is `attachment`, else the one
        `image_of` (a remixed job's request) was made from.
        """
        async with acknowledged(interaction, self._clock, Deferral.PUBLIC, turns=self._turns) as ack:
            defaults = self._channel_defaults.lookup(interaction.guild_id, interaction.channel_id)
            here = await self._gatekeeper.rules_here(interaction)
            served = await self._models.choose(model, defaults)
            kept = None if image_of is None else image_of.image
            await self._check_picture(served, attachment)
            if size is not None:
                chosen = size_named(size, narrowed(self._models.limits_for(served), here).sizes)
                explicit = dataclasses.replace(explicit, width=chosen.width, height=chosen.height)
            prepared = self._prepare(served, parsed, explicit, defaults, here)
            await self._admit_and_submit(ack, prepared.request, served, here, prepared.adjustments, attachment, kept)

    async def _check_picture(self, served: ServedModel, attachment: discord.Attachment | None) -> None:
        """Refuse a picture for a model that makes videos from text, naming one that would take it."""
        if attachment is None or served.profile.image_to_video:
            return
        allowed: Text = Text("left out: {model} makes videos from text", model=served.profile.title)
        taker = await self._models.picture_taker()
        if taker is not None:
            allowed = Text("{allowed}; pick model `{model}` to animate a picture", allowed=allowed, model=taker.name)
        raise InvalidOptionError("image", f"“{display_prompt(attachment.filename, 40)}”", allowed)

    def _prepare(
        self,
        served: ServedModel,
        parsed: ParsedPrompt,
        explicit: OptionOverrides,
        defaults: Sequence[ChannelDefaults],
        here: EffectiveRules,
    ) -> PreparedRequest:
        """The request `parsed` and `explicit` make on `served`, under the channel's `defaults` and the
        deployment's (its default steps apply to the model the settings describe), within the rules `here`."""
        limits = narrowed(self._models.limits_for(served), here)
        deployment = ChannelDefaults(
            scope="deployment",
            steps=min(self._default_steps, limits.max_steps) if self._models.configured(served) else None,
            negative_prompt=served.profile.negative_prompt or None,
        )
        prepared = prepare_request(parsed, explicit, [*defaults, deployment], limits)
        return dataclasses.replace(prepared, request=dataclasses.replace(prepared.request, model=served.name))

    async def _admit_and_submit(
        self,
        ack: Acknowledgement,
        request: VideoRequest,
        served: ServedModel,
        here: EffectiveRules,
        adjustments: Sequence[Text] = (),
        attachment: discord.Attachment | None = None,
        kept_image: str | None = None,
        *,
        extending: Path | None = None,
    ) -> None:
        """Queue `request` for the member of `ack` once the gatekeeper admits it under the rules `here`, with
        its picture, or with a copy of the video it continues (`extending`)."""
        admission = self._gatekeeper.admit(ack.interaction, request, here)
        try:
            if extending is not None:
                request = dataclasses.replace(request, extend=await copy_to_extend(extending, self._output_dir))
            else:
                request = await self._with_image(request, served.profile, attachment, kept_image)
        except BaseException:
            admission.withdraw()
            raise
        try:
            waiting_for = None if served.workers else served.name
            interaction = ack.interaction
            allowance = allowance_for(admission.limits, interaction.guild_id, interaction.user.id)
            await self._submitter.submit(
                ack,
                request,
                adjustments,
                waiting_for=waiting_for,
                allowance=allowance,
                server_language=here.language.value,
            )
        except BaseException:
            admission.withdraw()
            await discard_image(request.image)
            await discard_image(request.extend)
            raise

    async def _with_image(
        self,
        request: VideoRequest,
        profile: ModelProfile,
        attachment: discord.Attachment | None,
        kept_image: str | None,
    ) -> VideoRequest:
        """`request` with its picture stored, as the model wants: one for image-to-video, none otherwise."""
        if not profile.image_to_video:
            return request  # a picture for it was refused before anything was stored (`_check_picture`)
        if attachment is not None:
            path = await store_attachment(
                attachment, request.width, request.height, self._image_limits, self._output_dir
            )
        elif kept_image is not None:
            path = await copy_image(kept_image, request.width, request.height, self._output_dir)
        else:
            raise InvalidOptionError(
                "image", "none", Text("a picture to animate: {model} makes videos from images", model=profile.title)
            )
        return dataclasses.replace(request, image=path)

    async def on_button(self, action: JobAction, job_id: str, interaction: discord.Interaction[Any]) -> None:
        """A button on a status or result message was clicked."""
        deferrals = {JobAction.REROLL: Deferral.PUBLIC, JobAction.REMIX: Deferral.BUSY, JobAction.EXTEND: Deferral.BUSY}
        deferral = deferrals.get(action, Deferral.EPHEMERAL)
        speaker = speaker_for(interaction.locale)
        async with acknowledged(interaction, self._clock, deferral, turns=self._turns) as ack:
            try:
                info = await self._queue.get(job_id)
                match action:
                    case JobAction.CANCEL:
                        await self._cancel(ack, info)
                    case JobAction.DELETE:
                        await self._delete(ack, info)
                    case JobAction.INFO:
                        await ack.respond(embed=self._info_embed(info, speaker), ephemeral=True)
                    case JobAction.REROLL:
                        await self._reroll(ack, info)
                    case JobAction.REMIX:
                        await ack.open_modal(await self._remix_form(info, speaker))
                    case JobAction.EXTEND:
                        await self._offer_extension(ack, info, speaker)
            except JobNotFoundError:
                await ack.refuse(speaker.say("That job is no longer known to the bot."))
            except Exception as error:
                await report_error(interaction, error)

    async def _remix_form(self, info: JobInfo, speaker: Speaker) -> discord.ui.Modal:
        request = info.spec.request
        model = request.model or (await self._models.choose(None)).name
        names = [served.name for served in await self._models.offered()]
        return remix_form(info.job_id, prompt_with_flags(request), request.negative_prompt, model, names, speaker)

    async def on_remix_submit(self, interaction: discord.Interaction[Any], submission: RemixSubmission) -> None:
        """A remix form came back: parse it like a `/video` prompt and queue it on the model it names.

        A picture-animating model animates the remixed job's picture again.
        """
        try:
            explicit = OptionOverrides(negative_prompt=submission.negative_prompt or None)
            try:
                original: VideoRequest | None = (await self._queue.get(submission.job_id)).spec.request
            except JobNotFoundError:
                original = None  # a text model needs nothing of it; a picture model says the picture is missing
            model = submission.model.strip() or None
            await self.submit_new(
                interaction, parse_prompt_flags(submission.prompt), explicit, model=model, image_of=original
            )
        except Exception as error:
            await report_error(interaction, error)

    async def on_extend_submit(
        self, interaction: discord.Interaction[Any], prompt: str, negative: str, job_id: str
    ) -> None:
        """The extend form of job `job_id` came back: queue its continuation for the member who sent it.

        Like a `/video` (its prompt, the gatekeeper's checks, the queue's fairness and caps), at the
        original's frame rate and size, on a model that animates pictures, from a copy of the video.
        """
        async with acknowledged(interaction, self._clock, Deferral.PUBLIC, turns=self._turns) as ack:
            try:
                original = await self._queue.get(job_id)
                video = await video_to_extend(original, self._output_dir)
                model = animating_model(await self._models.current(), original.spec.request)
                parsed = parse_prompt_flags(prompt)
                explicit = kept_settings(original.spec.request, parsed, negative)
                defaults = self._channel_defaults.lookup(interaction.guild_id, interaction.channel_id)
                here = await self._gatekeeper.rules_here(interaction)
                prepared = self._prepare(model, parsed, explicit, defaults, here)
                await self._admit_and_submit(ack, prepared.request, model, here, prepared.adjustments, extending=video)
            except JobNotFoundError:
                await ack.refuse(speaker_for(interaction.locale).say("That job is no longer known to the bot."))
            except Exception as error:
                await report_error(interaction, error)

    async def _offer_extension(self, ack: Acknowledgement, info: JobInfo, speaker: Speaker) -> None:
        """Open the extend form, once the video is still here and a served model can continue it."""
        await video_to_extend(info, self._output_dir)
        animating_model(await self._models.current(), info.spec.request)
        request = info.spec.request
        await ack.open_modal(extend_form(info.job_id, extension_prompt(request), request.negative_prompt, speaker))

    async def my_quota(self, interaction: discord.Interaction[Any]) -> tuple[MemberLimits, QuotaUsage]:
        """The member's limits here (the server's rules, their roles' perks) and where their daily quota
        stands, on the queue's clock."""
        limits = self._gatekeeper.member_limits(interaction, await self._gatekeeper.rules_here(interaction))
        allowance = allowance_for(limits, interaction.guild_id, interaction.user.id)
        return limits, await self._queue.quota_usage(allowance)

    async def cancel_mine(self, interaction: discord.Interaction[Any]) -> list[JobInfo]:
        """Cancel every waiting or running job of the user; return what was cancelled."""
        user = str(interaction.user.id)
        mine = [info for info in await self._queue.active() if info.spec.owner_id == user]
        return [await self._queue.cancel(info.job_id, by=Person(user)) for info in mine]

    def _may_manage(self, interaction: discord.Interaction[Any], info: JobInfo) -> bool:
        return info.spec.owner_id == str(interaction.user.id) or self._gatekeeper.is_moderator(interaction)

    async def _reroll(self, ack: Acknowledgement, info: JobInfo) -> None:
        made = info.spec.request
        here = await self._gatekeeper.rules_here(ack.interaction)
        try:
            served = await self._models.choose(made.model)
            request = recheck_request(made.with_seed(None), narrowed(self._models.limits_for(served), here))
            request = dataclasses.replace(request, model=served.name)
        except InvalidOptionError as error:
            await ack.refuse(
                speaker_for(ack.interaction.locale).say(
                    "This video can't be re-rolled as it was made: {error}. "
                    "Use Remix to pick settings this server allows now.",
                    error=error.said,
                )
            )
            return
        await self._admit_and_submit(ack, request, served, here, kept_image=made.image)

    async def _cancel(self, ack: Acknowledgement, info: JobInfo) -> None:
        interaction = ack.interaction
        say = speaker_for(interaction.locale).say
        if not self._may_manage(interaction, info):
            await ack.refuse(say("Only the person who asked for this video or a moderator can cancel it."))
            return
        if info.status.terminal:
            await ack.refuse(say("This job already ended ({status}).", status=Text(info.status.value)))
            return
        await self._queue.cancel(info.job_id, by=Person(str(interaction.user.id)))
        log.info("cancel requested job_id=%s by user_id=%s", info.job_id, interaction.user.id)
        done = marked("Cancelled.") if info.status is JobStatus.QUEUED else marked("Stopping it now.")
        await ack.respond(content=say(done), ephemeral=True)

    async def _delete(self, ack: Acknowledgement, info: JobInfo) -> None:
        interaction = ack.interaction
        say = speaker_for(interaction.locale).say
        if not self._may_manage(interaction, info):
            await ack.refuse(say("Only the person who asked for this video or a moderator can delete it."))
            return
        await ack.respond(content=say("Deleted."), ephemeral=True)
        if interaction.message is not None:
            await interaction.message.delete()
        log.info("result deleted job_id=%s by user_id=%s", info.job_id, interaction.user.id)

    def _info_embed(self, info: JobInfo, speaker: Speaker) -> discord.Embed:
        request = info.spec.request
        say = speaker.say
        embed = discord.Embed(title=say("Video settings"), description=display_prompt(request.prompt, 1500))
        embed.add_field(name=say("Negative prompt"), value=display_prompt(request.negative_prompt or "—", 1000))
        embed.add_field(name=say("Settings"), value=render.settings_text(request, info.seed, speaker), inline=False)
        embed.add_field(name=say("Status"), value=say(info.status.value))
        embed.add_field(name=say("Requested by"), value=f"<@{info.spec.owner_id}>")
        if info.timings is not None:
            embed.add_field(
                name=say("Timings"),
                value=say(
                    "denoise {denoise} s · decode {decode} s · encode {encode} s",
                    denoise=speaker.number(info.timings.denoise_s, decimals=1),
                    decode=speaker.number(info.timings.decode_s, decimals=1),
                    encode=speaker.number(info.timings.encode_s, decimals=1),
                ),
                inline=False,
            )
        embed.set_footer(text=say("job {job}", job=info.job_id))
        return embed
