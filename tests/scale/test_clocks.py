"""Hosts whose clocks disagree (libfaketime moves a worker's clock): leases and liveness are judged on
Redis's clock alone, so a worker a minute ahead or behind neither loses its jobs nor takes others'."""

from __future__ import annotations

import discord

from tests.discord_emulator.models import Interaction, User
from tests.scale.cluster import LEASE_S, PREFIX, Cluster, members

MINUTE_S = 60


def lease_deadlines_past_redis_now(cluster: Cluster) -> list[float]:
    """For each running job, how far its lease deadline lies past Redis's clock now."""
    with cluster.redis() as client:
        seconds, micros = client.time()
        now = seconds + micros / 1e6
        return [deadline - now for _, deadline in client.zrange(f"{PREFIX}running", 0, -1, withscores=True)]


async def workers_field(cluster: Cluster, admin: User) -> str:
    """The name of the Workers field of `/videoadmin stats`, as the admin sees it."""
    stats = await cluster.emulator.invoke_slash(admin, cluster.channel, "videoadmin stats", {})
    callback = await stats.wait_for_response()
    assert callback.data is not None
    [name] = [field["name"] for field in callback.data["embeds"][0]["fields"] if field["name"].startswith("Workers")]
    return str(name)


async def test_workers_a_minute_ahead_and_behind_run_each_job_once_and_are_shown_alive(cluster: Cluster) -> None:
    users = members(cluster, 3)
    admin = cluster.emulator.add_user("admin")
    cluster.emulator.add_member(cluster.guild, admin, permissions=discord.Permissions(manage_guild=True).value)
    cluster.start_bot()
    workers = [
        cluster.start_worker("ahead", clock_offset_s=MINUTE_S),
        cluster.start_worker("behind", clock_offset_s=-MINUTE_S),
    ]
    await cluster.until_bot_ready()
    await cluster.until_workers_ready("ahead", "behind")
    for worker in workers:
        cluster.freeze(worker)  # the whole line is known before either takes: both get work
    # Long enough to span several ticks of every process (a lease is 3 ticks), so a lease misjudged by a
    # minute would be reclaimed while its worker still runs the job.
    asked: list[Interaction] = [
        await cluster.video(user, f"{user.username} at dusk {n} -steps 12 -frames 8") for user in users for n in (1, 2)
    ]
    for worker in workers:
        cluster.thaw(worker)
    await cluster.until(lambda: all(map(cluster.delivered, asked)), "six videos delivered")

    jobs = cluster.jobs()
    assert len(cluster.uploads()) == 6
    assert [(job["status"], job["attempts"], job["crashes"]) for job in jobs] == [("succeeded", "1", "0")] * 6
    assert await workers_field(cluster, admin) == "Workers (2 of 2 alive)"


async def test_a_dead_workers_job_is_reclaimed_within_a_lease_though_its_clock_ran_an_hour_ahead(
    cluster: Cluster,
) -> None:
    [alice] = members(cluster, 1)
    cluster.start_bot()
    await cluster.until_bot_ready()
    asked = await cluster.video(alice, "a lighthouse -steps 50 -frames 16")  # long: it is killed mid-run
    doomed = cluster.start_worker("doomed", clock_offset_s=3600)
    await cluster.until(lambda: any(job["status"] == "running" for job in cluster.jobs()), "the job running")
    cluster.freeze(doomed)

    [deadline] = lease_deadlines_past_redis_now(cluster)
    assert deadline <= LEASE_S
    cluster.kill(doomed)
    cluster.start_worker("rescuer")
    await cluster.until(lambda: cluster.delivered(asked), "the video delivered")

    [job] = cluster.jobs()
    assert (job["status"], job["worker"], job["crashes"]) == ("succeeded", "rescuer", "1")
    assert len(cluster.uploads()) == 1
