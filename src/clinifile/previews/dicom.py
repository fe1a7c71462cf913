"""A DICOM study's preview: one frame (the middle one of a multi-frame study), through its
modality LUT, windowed with its own VOI LUT or window centre/width (else its full range),
MONOCHROME1 inverted. Only pixels leave: no tag of the data set reaches the image."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from clinifile.previews.render import Limits, NoPreview


def _header(path: str) -> Any:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError) as error:
        raise NoPreview(f"not a DICOM file this server can read ({error})") from error


def _checked_size(header: Any, limits: Limits) -> int:
    """The number of frames, once the header's claims are within the bounds."""
    try:
        rows, columns = int(header.Rows), int(header.Columns)
        frames = int(getattr(header, "NumberOfFrames", 1) or 1)
        samples = int(getattr(header, "SamplesPerPixel", 1) or 1)
    except (AttributeError, TypeError, ValueError) as error:
        raise NoPreview("the DICOM file has no image (no Rows and Columns)") from error
    if rows <= 0 or columns <= 0 or frames <= 0:
        raise NoPreview("the DICOM file's image has no size")
    if rows * columns > limits.max_pixels:
        raise NoPreview(
            f"the DICOM image is {columns} x {rows} pixels, over the {limits.max_pixels} previewed"
        )
    if rows * columns * samples * frames > limits.max_pixels * 16:
        raise NoPreview(f"the DICOM study is too large to preview ({frames} frames)")
    return frames


def _frame(path: str, index: int) -> Any:
    """One frame's pixels, read alone (a study's other frames are never decoded)."""
    from pydicom.pixels import pixel_array

    try:
        return pixel_array(path, index=index)
    except NotImplementedError as error:
        raise NoPreview(f"the DICOM file's compression cannot be decoded here ({error})") from error
    except (ValueError, RuntimeError, OSError, EOFError, KeyError, AttributeError) as error:
        raise NoPreview(f"the DICOM file's pixels cannot be read ({error})") from error


def _to_8bit(values: Any) -> Any:
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.clip((values - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)


def _grey(frame: Any, ds: Any) -> Any:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    values = np.asarray(apply_modality_lut(frame, ds), dtype=np.float64)
    if "VOILUTSequence" in ds:
        eight = _to_8bit(np.asarray(apply_voi_lut(frame, ds, index=0)))
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        # the first window the file names: its lower end black, its upper end white
        center = float(np.ravel([ds.WindowCenter])[0])
        width = max(float(np.ravel([ds.WindowWidth])[0]), 1.0)
        low = center - width / 2
        eight = np.clip((values - low) * (255.0 / width), 0, 255).astype(np.uint8)
    elif float(values.min()) == float(values.max()):
        # a flat frame: as bright as its value is within the stored bits
        top = float(2 ** int(ds.get("BitsStored", 16) or 16) - 1)
        eight = np.full(values.shape, np.clip(values.flat[0] * 255.0 / top, 0, 255), np.uint8)
    else:
        eight = _to_8bit(values)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        eight = 255 - eight
    return eight


def dicom_preview(path: str, limits: Limits) -> Image.Image:
    ds = _header(path)
    frames = _checked_size(ds, limits)
    frame = _frame(path, frames // 2)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples == 3:
        # pydicom gives RGB (YBR converted); scale to 8 bits when stored wider
        rgb = frame if frame.dtype == np.uint8 else _to_8bit(frame)
        return Image.fromarray(np.ascontiguousarray(rgb[..., :3]), mode="RGB")
    if samples != 1 or frame.ndim != 2:
        raise NoPreview("the DICOM image's pixel layout is not one this server previews")
    return Image.fromarray(np.ascontiguousarray(_grey(frame, ds)), mode="L").convert("RGB")
