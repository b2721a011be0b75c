"""docker-compose.yml, checked without a Docker engine: the one-machine service that runs by default, and
the scale-out profile (the bot without a GPU, Redis with its append-only file, one worker per GPU)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from dotenv import dotenv_values

from bot.settings import Settings
from tests.ops.dockerfile import ROOT, image_env, stages

COMPOSE = ROOT / "docker-compose.yml"
PROFILE = "scale-out"
SHARDED = "sharded"
REDIS = "@redis:6379/0"


def compose(text: str | None = None) -> dict[str, Any]:
    """The compose file (or `text`) as compose reads it: YAML anchors and merge keys resolved."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text() if text is None else text)
    return loaded


def bot_service() -> dict[str, Any]:
    service: dict[str, Any] = compose()["services"]["bot"]
    return service


def profile(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services of the scale-out profile."""
    return {name: service for name, service in services.items() if PROFILE in service.get("profiles", [])}


def workers(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in services.items() if service.get("command") == ["videobot-worker"]}


def reserved_devices(service: dict[str, Any]) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = (
        service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    )
    return devices


def with_second_worker() -> dict[str, Any]:
    """The compose file with its commented-out second GPU worker uncommented, as the comment says to."""
    text = re.sub(r"^  # (worker-gpu1:|  )", r"  \1", COMPOSE.read_text(), flags=re.MULTILINE)
    return compose(text)


def test_compose_reserves_one_nvidia_gpu() -> None:
    devices = bot_service()["deploy"]["resources"]["reservations"]["devices"]

    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_compose_builds_this_folder_and_reads_the_env_file() -> None:
    service = bot_service()

    assert service["build"]["context"] == "."
    assert service["env_file"] == ".env"
    assert service["restart"] == "unless-stopped"


def test_compose_keeps_data_and_model_cache_on_named_volumes() -> None:
    mounts = dict(volume.split(":")[::-1] for volume in bot_service()["volumes"])

    assert mounts["/data"] in compose()["volumes"]
    assert mounts[image_env()["HF_HOME"]] in compose()["volumes"]


def test_compose_keeps_the_image_healthcheck() -> None:
    assert "healthcheck" not in bot_service()


def test_compose_gives_the_running_job_longer_than_the_shutdown_grace() -> None:
    grace = int(bot_service()["stop_grace_period"].removesuffix("s"))

    assert grace > Settings.model_fields["shutdown_grace_s"].default


def test_metrics_port_mapping_is_offered_commented_out() -> None:
    text = (ROOT / "docker-compose.yml").read_text()

    assert "ports" not in bot_service()
    assert '#   - "127.0.0.1:8080:8080"' in text


def enabled(services: dict[str, Any], profiles: set[str]) -> set[str]:
    """The services compose starts with `profiles` active: those with no profile, and those of an active one."""
    return {
        name for name, service in services.items() if not service.get("profiles") or profiles & set(service["profiles"])
    }


def bots(names: set[str], services: dict[str, Any]) -> set[str]:
    """Of `names`, the services that run the bot (this project's image, not a worker)."""
    return {
        name
        for name in names
        if services[name]["image"].startswith("videobot") and services[name].get("command") != ["videobot-worker"]
    }


def default_profiles() -> set[str]:
    """COMPOSE_PROFILES as .env.example sets it: what `docker compose up` runs when no --profile is named."""
    example = dotenv_values(ROOT / ".env.example")
    return set((example.get("COMPOSE_PROFILES") or "").split(","))


def test_every_service_has_a_profile_so_none_runs_beside_another_profiles_bot() -> None:
    assert [name for name, service in compose()["services"].items() if not service.get("profiles")] == []


def test_without_a_profile_named_the_env_example_runs_the_one_machine_bot() -> None:
    assert enabled(compose()["services"], default_profiles()) == {"bot"}


@pytest.mark.parametrize("services", [compose()["services"], with_second_worker()["services"]], ids=["as-is", "two"])
@pytest.mark.parametrize("profile", ["one-machine", PROFILE])
def test_each_profile_runs_exactly_one_bot(services: dict[str, Any], profile: str) -> None:
    # `--profile NAME` replaces COMPOSE_PROFILES: no `--scale bot=0` to remember.
    assert len(bots(enabled(services, {profile}), services)) == 1


def test_the_scale_out_profile_is_a_bot_without_gpu_redis_and_gpu_workers() -> None:
    services = profile(compose()["services"])

    assert set(services) == {"bot-nogpu", "redis", *workers(services)}
    assert workers(services)


def test_the_scaled_out_bot_builds_the_bot_target_and_reserves_no_gpu() -> None:
    service = compose()["services"]["bot-nogpu"]

    assert service["build"] == {"context": ".", "target": "bot"}
    assert "bot" in stages()
    assert service["image"] != bot_service()["image"]
    assert "deploy" not in service


def test_redis_keeps_an_append_only_file_synced_every_second_on_a_named_volume() -> None:
    redis = compose()["services"]["redis"]
    command = redis["command"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in redis["volumes"]}

    assert redis["image"].startswith("redis:7")
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    assert mounts["/data"] in compose()["volumes"]


def test_redis_is_not_published_outside_the_compose_network() -> None:
    assert "ports" not in compose()["services"]["redis"]


@pytest.mark.parametrize("services", [compose()["services"], with_second_worker()["services"]], ids=["as-is", "two"])
def test_each_gpu_worker_is_pinned_to_a_gpu_of_its_own(services: dict[str, Any]) -> None:
    pinned = [reserved_devices(worker) for worker in workers(services).values()]

    for devices in pinned:
        (device,) = devices
        assert (device["driver"], device["capabilities"], len(device["device_ids"])) == ("nvidia", ["gpu"], 1)
        assert "count" not in device
    ids = [devices[0]["device_ids"][0] for devices in pinned]
    assert len(ids) == len(set(ids))


def test_the_commented_second_worker_is_a_worker_on_the_second_gpu() -> None:
    services = with_second_worker()["services"]

    assert set(workers(services)) == {"worker-gpu0", "worker-gpu1"}
    assert reserved_devices(services["worker-gpu1"])[0]["device_ids"] == ["1"]
    assert services["worker-gpu1"] == services["worker-gpu0"] | {"deploy": services["worker-gpu1"]["deploy"]}


def test_a_worker_runs_the_full_image_on_the_one_gpu_it_sees() -> None:
    for worker in workers(compose()["services"]).values():
        assert worker["image"] == bot_service()["image"]
        assert "target" not in worker["build"]
        # Pinned by device_ids, the container sees its GPU as the first.
        assert worker["environment"]["DEVICE"] == "cuda:0"


def test_the_scaled_out_services_share_redis_and_read_the_env_file() -> None:
    services = compose()["services"]
    clients = {"bot-nogpu": services["bot-nogpu"], **workers(services)}

    for name, service in clients.items():
        user = "videobot-bot" if name == "bot-nogpu" else "videobot-worker"  # their users in users.acl
        assert service["environment"]["QUEUE_URL"].startswith(f"redis://{user}:")
        assert service["environment"]["QUEUE_URL"].endswith(REDIS)
        assert service["env_file"] == ".env"
        assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert "QUEUE_URL" not in bot_service().get("environment", {})


def test_the_scaled_out_services_stop_with_the_grace_a_running_job_needs() -> None:
    services = compose()["services"]

    for service in [services["bot-nogpu"], *workers(services).values()]:
        assert int(service["stop_grace_period"].removesuffix("s")) > Settings.model_fields["shutdown_grace_s"].default
        assert service["init"] is True


def shard_bots(services: dict[str, Any]) -> dict[str, Settings]:
    """The bots of the sharded profile, by service name, with the settings compose gives each."""
    names = bots(enabled(services, {SHARDED}), services)
    return {
        name: Settings(_env_file=None, discord_token="token", **services[name]["environment"]) for name in sorted(names)
    }


def test_the_sharded_profile_splits_every_shard_once_over_two_bots_with_redis_and_the_workers() -> None:
    services = compose()["services"]
    shards = shard_bots(services)

    assert len(shards) == 2
    assert enabled(services, {SHARDED}) == {*shards, "redis", *workers(services)}
    [count] = {settings.shard_count for settings in shards.values()}
    assert count is not None
    assert sorted(shard for settings in shards.values() for shard in settings.shard_ids) == list(range(count))
    assert len({settings.queue_origin for settings in shards.values()}) == 2


def test_each_shard_bot_runs_without_a_gpu_on_its_own_volume_and_shares_redis() -> None:
    services = compose()["services"]
    volumes = set()

    for name in shard_bots(services):
        service = services[name]
        assert (service["build"], service["image"]) == (
            services["bot-nogpu"]["build"],
            services["bot-nogpu"]["image"],
        )
        assert "deploy" not in service
        assert service["environment"]["QUEUE_URL"] == services["bot-nogpu"]["environment"]["QUEUE_URL"]
        assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}
        assert service["env_file"] == ".env"
        [volume] = [mount.split(":")[0] for mount in service["volumes"] if mount.endswith(":/data")]
        volumes.add(volume)
    # The instance lock and the job database are per OUTPUT_DIR: one volume each, not the one-machine bot's.
    assert len(volumes) == 2
    assert volumes <= set(compose()["volumes"]) - {"data"}
