"""Job ids have one format, and a file named after one stays in its folder, whatever the id or the disk says."""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.queue.jobfiles import UnsafeNameError, inside, is_job_id, job_file, new_job_id


def test_a_new_job_id_is_a_job_id() -> None:
    assert is_job_id(new_job_id())


@pytest.mark.parametrize(
    "value", ["../../escaped", "/etc/passwd", "ABCDEF012345", "0123456789abc", "0123456789a", "01234567\n9ab", 12, None]
)
def test_anything_else_is_not_a_job_id(value: object) -> None:
    assert not is_job_id(value)


@pytest.mark.parametrize("job_id", ["../../escaped", "/tmp/escaped", "a/b"])
def test_no_file_is_named_after_what_is_not_a_job_id(tmp_path: Path, job_id: str) -> None:
    with pytest.raises(UnsafeNameError):
        job_file(tmp_path, job_id, ".mp4")


def test_a_job_file_lies_in_its_folder(tmp_path: Path) -> None:
    job_id = new_job_id()
    assert inside(tmp_path, job_file(tmp_path, job_id, ".png")) == tmp_path.resolve() / f"{job_id}.png"


@pytest.mark.parametrize("path", ["../sentinel", "/etc/passwd", "images/../../sentinel", "."])
def test_a_path_that_resolves_outside_its_folder_or_to_it_is_refused(tmp_path: Path, path: str) -> None:
    folder = tmp_path / "outputs"
    folder.mkdir()
    with pytest.raises(UnsafeNameError):
        inside(folder, folder / path)


def test_a_link_in_the_folder_that_leads_out_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "planted.png").symlink_to(tmp_path / "sentinel")
    with pytest.raises(UnsafeNameError):
        inside(folder, folder / "planted.png")
