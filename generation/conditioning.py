"""The picture an image-to-video model animates: checked, cropped to the video's size, kept as a file.

An image is checked before anything is queued (`prepare_image`): a known image format, at most
`max_bytes` and `max_pixels` (read from the header, before decoding; a picture past Pillow's own
decompression-bomb guard is refused as too many pixels), decodable. It is then scaled to cover the
requested size, centre-cropped to it and saved as a PNG in the output folder's `images/` area
(`store_image`). The request refers to that file by path (`VideoRequest.image`), so a queued job keeps
its image across a restart; the file is deleted with the job's video (`generation.queue.retention`).
Pillow only, no torch: the bot uses it.
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from generation.errors import GenerationError, InvalidRequestError

#: Formats accepted, by Pillow's name, with the content types an upload of each may declare.
FORMATS: Final = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
IMAGES_FOLDER: Final = "images"

# What a refused picture is, and what is accepted, as its user reads them (English: a front end that
# speaks other languages keys its translations on these; the bot's `bot/i18n/engine_texts.py`).
LIMITS: Final = "a PNG, JPEG or WebP of at most {mib} MiB and {pixels} pixels"
A_FORMAT_FILE: Final = "a {format} file"
PIXELS: Final = "{width}×{height} pixels"
TOO_MANY_PIXELS: Final = "an image of too many pixels"
NOT_AN_IMAGE: Final = "a file that is not a readable image"
NO_LONGER_KEPT: Final = "an image no longer kept"
A_NEW_IMAGE: Final = "a new image attached to /video"
FIXED_PICTURE_TEXTS: Final = (TOO_MANY_PIXELS, NOT_AN_IMAGE, NO_LONGER_KEPT, A_NEW_IMAGE)
PICTURE_TEMPLATES: Final = (LIMITS, A_FORMAT_FILE, PIXELS)


@dataclass(frozen=True)
class ImageLimits:
    """The most an accepted image may weigh (bytes) and hold (pixels)."""

    max_bytes: int
    max_pixels: int

    def describe(self) -> str:
        """The limits as a user reads them."""
        return LIMITS.format(mib=f"{self.max_bytes / 2**20:.3g}", pixels=f"{self.max_pixels:,}")


def prepare_image(data: bytes, width: int, height: int, limits: ImageLimits) -> bytes:
    """`data` checked, scaled to cover `width`×`height` and centre-cropped to it, as PNG bytes.

    Raises `InvalidRequestError` for field `image`, saying what is wrong and what is accepted. Blocking
    (decoding takes a while for large pictures): run it off the event loop.
    """
    if len(data) > limits.max_bytes:
        raise InvalidRequestError("image", f"{len(data) / 2**20:.1f} MiB", limits.describe())
    try:
        # Pillow refuses past twice its MAX_IMAGE_PIXELS on its own (DecompressionBombError) and only warns
        # between; `max_pixels` is checked from the header before anything is decoded, so no filter on
        # warnings is needed (one would be process-wide, and this runs on worker threads).
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise InvalidRequestError("image", A_FORMAT_FILE.format(format=image.format), limits.describe())
            if image.width * image.height > limits.max_pixels:
                raise InvalidRequestError(
                    "image", PIXELS.format(width=image.width, height=image.height), limits.describe()
                )
            image.load()
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except InvalidRequestError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # the warning, where made an error
        raise InvalidRequestError("image", TOO_MANY_PIXELS, limits.describe()) from None
    except UnidentifiedImageError:
        raise InvalidRequestError("image", NOT_AN_IMAGE, limits.describe()) from None
    except (OSError, SyntaxError, ValueError) as error:
        # Pillow's truncated or corrupt-data errors.
        raise InvalidRequestError("image", f"a damaged image ({error})", limits.describe()) from None
    fitted = ImageOps.fit(upright, (width, height), method=Image.Resampling.LANCZOS)
    out = io.BytesIO()
    fitted.save(out, format="PNG")
    return out.getvalue()


def store_image(png: bytes, output_dir: Path) -> Path:
    """Write `png` under `output_dir/images/` with a fresh name and return its path. Blocking."""
    folder = output_dir / IMAGES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(16)}.png"
    partial = path.with_suffix(".part")
    partial.write_bytes(png)
    os.replace(partial, path)  # a reader never sees half a file
    return path


def copy_stored_image(path: str, width: int, height: int, output_dir: Path) -> Path:
    """A new file holding the image at `path` fitted to `width`×`height`, for a new job. Blocking.

    Each job owns, and in the end deletes, its own file. Raises `InvalidRequestError` for field `image`
    when the file is gone (deleted with an old job's files).
    """
    try:
        with Image.open(path) as image:
            picture = image.convert("RGB")
    except FileNotFoundError:
        raise InvalidRequestError("image", NO_LONGER_KEPT, A_NEW_IMAGE) from None
    if picture.size != (width, height):
        picture = ImageOps.fit(picture, (width, height), method=Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return store_image(out.getvalue(), output_dir)


def open_stored_image(path: str) -> Image.Image:
    """The stored image at `path`, decoded (RGB); `GenerationError` when it is gone. Blocking."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise GenerationError(f"the job's image {path} cannot be read: {error}") from error
