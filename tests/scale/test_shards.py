"""Two bot processes, shards 0 and 1 of 2, sharing one Redis and one GPU worker: each serves the guilds of
its shard, submits into the one fair queue under its own origin, and delivers its own jobs, once each,
even across a SIGKILL and a restart."""

from __future__ import annotations

from tests.discord_emulator import Channel, Guild, Interaction, Shard, User
from tests.scale.cluster import Cluster, video_prompt

SHARDS = (Shard(0, 2), Shard(1, 2))


def shard_bot(cluster: Cluster, shard: Shard, guilds: list[Guild]) -> None:
    """Start the bot process for `shard`, syncing commands to every guild (as each process is configured)."""
    cluster.start_bot(
        f"shard{shard.id}",
        SHARD_COUNT=str(shard.count),
        SHARD_IDS=str(shard.id),
        DISCORD_GUILD_IDS=",".join(str(guild.id) for guild in guilds),
    )


def origin_by_owner(cluster: Cluster) -> dict[str, set[str]]:
    """Which origins (bot processes) submitted each user's jobs."""
    origins: dict[str, set[str]] = {}
    for job in cluster.jobs():
        origins.setdefault(job["owner"], set()).add(job["origin"])
    return origins


async def test_two_shard_processes_each_deliver_their_guilds_jobs_once_and_a_killed_one_catches_up_on_restart(
    cluster: Cluster,
) -> None:
    emulator = cluster.emulator
    # Four guilds over two shards, each with its own channel and member: two guilds per shard.
    places: list[tuple[Shard, Guild, Channel, User]] = []
    for n, shard in enumerate(SHARDS * 2):
        guild = emulator.add_guild(f"guild{n}", shard=shard)
        user = emulator.add_user(f"member{n}")
        emulator.add_member(guild, user)
        places.append((shard, guild, emulator.add_channel(guild, "videos"), user))
    guilds = [guild for _, guild, _, _ in places]
    for shard in SHARDS:
        shard_bot(cluster, shard, guilds)
    worker = cluster.start_worker("gpu0")
    # Each process syncs its commands before it identifies: both shards ready means both processes are.
    await cluster.until(lambda: emulator.gateway.ready and emulator.gateway.connected, "both shards identified")
    assert all(emulator.commands(guild) for guild in guilds)
    assert {session.shard for session in emulator.gateway.sessions.values()} == set(SHARDS)
    await cluster.until_workers_ready("gpu0")

    first = [
        await cluster.video(user, video_prompt(f"first in {guild.name}"), channel) for _, guild, channel, user in places
    ]
    await cluster.until(lambda: all(map(cluster.delivered, first)), "a video delivered in every guild")
    assert len(cluster.uploads()) == 4

    # Second round: asked while the worker is held, then shard 1's process is lost before anything ends.
    cluster.freeze(worker)
    second: dict[int, list[Interaction]] = {shard.id: [] for shard in SHARDS}
    for shard, guild, channel, user in places:
        second[shard.id].append(await cluster.video(user, video_prompt(f"second in {guild.name}"), channel))
    # The answer may come before the job is in Redis (a deferral): killed only once every job is.
    await cluster.until(lambda: len(cluster.jobs()) == 8, "the second round queued")
    cluster.kill(cluster.bots["shard1"])
    cluster.thaw(worker)
    await cluster.until(lambda: all(job["status"] == "succeeded" for job in cluster.jobs()), "every job run")
    await cluster.until(lambda: all(map(cluster.delivered, second[0])), "shard 0's videos delivered")
    assert not any(map(cluster.delivered, second[1]))  # nobody followed them while shard 1 was down

    shard_bot(cluster, SHARDS[1], guilds)
    await cluster.until(lambda: all(map(cluster.delivered, second[1])), "shard 1's videos delivered after its restart")

    assert len(cluster.uploads()) == 8
    assert origin_by_owner(cluster) == {str(user.id): {f"shards-{shard.id}"} for shard, _, _, user in places}
