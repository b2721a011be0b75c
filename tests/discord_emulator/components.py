"""Message components and modals: storing what the bot sent as Discord returns it, and filling them in
as a user."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def stored_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Components as Discord returns them: nulls dropped (requests may send `"emoji": {"id": null}`,
    responses never carry one) and numbered depth-first from 1 where the bot gave no `id`."""
    counter = iter(range(1, 10_000))

    def store(component: dict[str, Any]) -> dict[str, Any]:
        stored = without_nulls(component)
        stored["id"] = component.get("id") or next(counter)
        if "components" in component:
            stored["components"] = [store(child) for child in component["components"]]
        if "component" in component:
            stored["component"] = store(component["component"])
        return stored

    return [store(component) for component in components]


def without_nulls(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of `document` without null-valued keys, at every depth."""
    cleaned: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            cleaned[key] = without_nulls(value)
        elif isinstance(value, list):
            cleaned[key] = [without_nulls(item) if isinstance(item, dict) else item for item in value]
        elif value is not None:
            cleaned[key] = value
    return cleaned


def walk(components: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Every component, depth-first, through action rows and labels."""
    for component in components:
        yield component
        yield from walk(component.get("components", []))
        if "component" in component:
            yield from walk([component["component"]])


def find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    """The component with `custom_id`, if any."""
    return next((c for c in walk(components) if c.get("custom_id") == custom_id), None)


def filled_modal(components: list[dict[str, Any]], values: Mapping[str, str]) -> list[dict[str, Any]]:
    """The modal's layout as the client submits it: rows and labels kept, each input with its value.

    The client refuses to submit a text input that is required and empty, or outside its length
    limits, so the emulator refuses too (a test cannot send what no user could).
    """
    unknown = set(values) - {c.get("custom_id") for c in walk(components)}
    if unknown:
        raise ValueError(f"the modal has no inputs {sorted(unknown)}")
    for text_input in (c for c in walk(components) if c.get("type") == TEXT_INPUT):
        _check_text(text_input, values.get(text_input["custom_id"], text_input.get("value", "")))
    return _fill(components, values)


TEXT_INPUT = 4
TEXT_INPUT_MAX_LENGTH = 4000


def _check_text(text_input: dict[str, Any], value: str) -> None:
    name = text_input["custom_id"]
    if not value:
        if text_input.get("required", True):
            raise ValueError(f"text input {name!r} is required")
        return
    low, high = text_input.get("min_length", 0), text_input.get("max_length", TEXT_INPUT_MAX_LENGTH)
    if not low <= len(value) <= high:
        raise ValueError(f"text input {name!r} takes {low}..{high} characters, not {len(value)}")


def _fill(components: list[dict[str, Any]], values: Mapping[str, str]) -> list[dict[str, Any]]:
    submitted: list[dict[str, Any]] = []
    for component in components:
        if component["type"] == 1:
            children = _fill(component["components"], values)
            submitted.append({"type": 1, "id": component.get("id", 0), "components": children})
        elif component["type"] == 18:
            inner = _fill([component["component"]], values)[0]
            submitted.append({"type": 18, "id": component.get("id", 0), "component": inner})
        elif component.get("custom_id") is not None:
            value = values.get(component["custom_id"], component.get("value", ""))
            submitted.append(
                {
                    "type": component["type"],
                    "id": component.get("id", 0),
                    "custom_id": component["custom_id"],
                    "value": value,
                }
            )
    return submitted
