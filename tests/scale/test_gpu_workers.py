"""GPU workers in processes of their own, one bot process and a real redis-server: every job is
delivered once, in the fair order, whichever process dies."""

from __future__ import annotations

from bot.discord_io.views import JobAction
from tests.discord_emulator.models import Interaction, Message
from tests.scale.cluster import Cluster, members, video_prompt


def owners_in_take_order(cluster: Cluster) -> list[str]:
    """Whose job each take handed out, in the order Redis made them (the fencing token counts takes)."""
    jobs = sorted(cluster.jobs(), key=lambda job: int(job["token"]))
    return [job["owner"] for job in jobs]


async def test_three_workers_deliver_60_jobs_of_20_users_once_each_in_the_fair_order(cluster: Cluster) -> None:
    users = members(cluster, 20)
    cluster.start_bot()
    workers = [cluster.start_worker(name) for name in ("gpu0", "gpu1", "gpu2")]
    await cluster.until_bot_ready()
    await cluster.until_workers_ready("gpu0", "gpu1", "gpu2")
    # Everyone asks while the workers, all ready, are held: the whole line is known when the first take
    # happens, and no worker that started late finds the work already done.
    for worker in workers:
        cluster.freeze(worker)
    asked: list[Interaction] = []
    for user in users:
        for n in range(3):
            asked.append(await cluster.video(user, video_prompt(f"{user.username} clip {n}")))
    for worker in workers:
        cluster.thaw(worker)
    await cluster.until(lambda: all(map(cluster.delivered, asked)), "60 videos delivered")

    assert len(cluster.uploads()) == 60
    assert owners_in_take_order(cluster) == [str(user.id) for user in users] * 3
    assert {job["worker"] for job in cluster.jobs()} == {"gpu0", "gpu1", "gpu2"}


async def test_a_job_whose_worker_is_killed_mid_job_is_finished_by_another_and_delivered_once(
    cluster: Cluster,
) -> None:
    alice, bob = members(cluster, 2)
    cluster.start_bot()
    await cluster.until_bot_ready()
    # Alice's job is long: between the test seeing its first step and freezing the worker, the worker
    # would have to run all the others, and a slower machine only makes that run longer.
    asked = [
        await cluster.video(alice, "a lighthouse -steps 50 -frames 16"),
        await cluster.video(bob, video_prompt("a fox")),
    ]
    doomed = cluster.start_worker("doomed")
    await cluster.until(
        lambda: any(job["status"] == "running" and int(job.get("step") or 0) >= 1 for job in cluster.jobs()),
        "a job past its first step",
    )

    cluster.freeze(doomed)  # from here on it can neither finish its job nor give it back
    held = [job for job in cluster.jobs() if job["status"] == "running" and job.get("worker") == "doomed"]
    assert held, "the worker ended its job before it was frozen; nothing left to kill it in the middle of"
    cluster.kill(doomed)
    cluster.start_worker("rescuer")
    await cluster.until(lambda: all(map(cluster.delivered, asked)), "both videos delivered")

    [rescued] = [job for job in cluster.jobs() if job["id"] == held[0]["id"]]
    assert (rescued["status"], rescued["worker"]) == ("succeeded", "rescuer")
    assert len(cluster.uploads()) == 2


async def test_jobs_queued_before_the_bot_was_killed_are_each_delivered_once_after_its_restart(
    cluster: Cluster,
) -> None:
    users = members(cluster, 3)
    bot = cluster.start_bot()
    await cluster.until_bot_ready()
    asked = [await cluster.video(user, video_prompt(f"{user.username} at sea {n}")) for user in users for n in range(2)]

    cluster.kill(bot)
    cluster.start_worker("gpu0")
    # The jobs run and end while no bot listens; their events wait in Redis for its saved cursor.
    await cluster.until(lambda: all(job["status"] == "succeeded" for job in cluster.jobs()), "every job run")
    assert not any(map(cluster.delivered, asked))
    cluster.start_bot()
    await cluster.until(lambda: all(map(cluster.delivered, asked)), "six videos delivered")

    assert len(cluster.uploads()) == 6


async def test_jobs_waiting_when_redis_restarts_still_run(cluster: Cluster) -> None:
    alice, bob = members(cluster, 2)
    cluster.start_bot()
    await cluster.until_bot_ready()
    asked = [await cluster.video(alice, video_prompt("snow")), await cluster.video(bob, video_prompt("rain"))]

    cluster.redis_server.kill()  # a crash: only what the AOF holds survives
    cluster.redis_server.restart()
    cluster.start_worker("gpu0")
    await cluster.until(lambda: all(map(cluster.delivered, asked)), "both videos delivered")

    assert len(cluster.uploads()) == 2


async def test_a_waiting_job_is_cancelled_in_redis_and_never_runs(cluster: Cluster) -> None:
    alice, bob = members(cluster, 2)
    cluster.start_bot()
    await cluster.until_bot_ready()
    kept = await cluster.video(alice, video_prompt("a kite"))
    dropped = await cluster.video(bob, video_prompt("a storm"))
    status = dropped.original
    assert status is not None

    cancel = await cluster.emulator.click_button(bob, status, _cancel_button(status))
    await cancel.wait_for_response()
    cluster.start_worker("gpu0")
    await cluster.until(lambda: cluster.delivered(kept), "the other video delivered")

    [job] = [job for job in cluster.jobs() if job["owner"] == str(bob.id)]
    assert job["status"] == "cancelled"
    assert "started_at" not in job
    assert not cluster.delivered(dropped)


async def test_a_job_running_on_a_remote_worker_is_stopped_by_cancel(cluster: Cluster) -> None:
    [alice] = members(cluster, 1)
    cluster.start_bot()
    await cluster.until_bot_ready()
    # As many steps as a request may have: the cancel has the whole run to arrive in, and a slower
    # machine only makes that run longer.
    long = await cluster.video(alice, "a long voyage -steps 50 -frames 16")
    worker = cluster.start_worker("gpu0")
    await cluster.until(
        lambda: any(job["status"] == "running" and int(job.get("step") or 0) >= 1 for job in cluster.jobs()),
        "the job past its first step",
    )
    status = long.original
    assert status is not None

    # Held while the cancel travels (the bot, Redis, the worker's subscription), so it reaches a job
    # that is still running however slowly the bot got to it.
    cluster.freeze(worker)
    cancel = await cluster.emulator.click_button(alice, status, _cancel_button(status))
    await cancel.wait_for_response()
    await cluster.until(lambda: "cancel_by" in cluster.jobs()[0], "the cancel recorded in Redis")
    cluster.thaw(worker)
    await cluster.until(lambda: cluster.jobs()[0]["status"] == "cancelled", "the job cancelled")

    [job] = cluster.jobs()
    assert int(job["step"]) < int(job["total"])
    assert not cluster.delivered(long)
    assert cluster.uploads() == []


def _cancel_button(message: Message) -> str:
    """The custom id of the Cancel button on a job's status message."""
    for row in message.components:
        for component in row.get("components", []):
            if str(component.get("custom_id", "")).startswith(f"job:{JobAction.CANCEL}:"):
                return str(component["custom_id"])
    raise AssertionError(f"no Cancel button on the status message: {message.components}")
