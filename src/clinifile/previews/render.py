"""Turns one file into preview images; runs only inside the child process (previews.child).

Every image handed back is a fresh RGB or RGBA image built from pixels alone: no EXIF, XMP,
ICC profile or DICOM tag can reach the output. EXIF orientation is applied and colour
profiles are converted to sRGB before the pixels are taken.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

SIZES = {"small": 320, "large": 1600}
IMAGE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/bmp",
        "image/heic",
        "image/heif",
    }
)
PDF_TYPES = frozenset({"application/pdf"})
DICOM_TYPES = frozenset({"application/dicom"})


def kind_of(content_type: str | None, filename: str | None = None) -> str | None:
    """ "image", "pdf", "dicom", or None when this type gets no preview."""
    if content_type in IMAGE_TYPES:
        return "image"
    if content_type in PDF_TYPES:
        return "pdf"
    if content_type in DICOM_TYPES or (filename or "").lower().endswith((".dcm", ".dicom")):
        return "dicom"
    return None


class NoPreview(Exception):
    """This file gets no preview; the message says why, in a sentence for an operator."""


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_pdf_pages: int


def _clean(image: Image.Image) -> Image.Image:
    """Pixels only, in sRGB: a new image that carries none of the source's metadata."""
    mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
    pixels = image.convert(mode)
    return Image.frombytes(mode, pixels.size, pixels.tobytes())


def _to_srgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode=output_mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a broken profile: the pixels as they are
    return converted if converted is not None else image


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - pillow-heif has wheels for Linux and macOS
        return
    register_heif_opener()


def image_preview(path: str, limits: Limits) -> Image.Image:
    _register_heif()
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    with warnings.catch_warnings():
        # past MAX_IMAGE_PIXELS Pillow only warns (it raises at twice that): refuse at once
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                image.seek(0)  # GIF, TIFF: the first frame or page
                if image.format == "JPEG":
                    # decode at 1/2 to 1/8 scale when that still covers the large size
                    image.draft("RGB", (SIZES["large"], SIZES["large"]))
                oriented = ImageOps.exif_transpose(image)
                oriented.load()
                return _clean(_to_srgb(oriented))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise NoPreview(f"image too large to preview ({error})") from error
        except Image.UnidentifiedImageError as error:
            raise NoPreview("not an image this server can read") from error
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise NoPreview(f"damaged image: {error}") from error


def pdf_preview(path: str, limits: Limits) -> Image.Image:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        raise NoPreview(f"the PDF cannot be opened ({error})") from error
    try:
        pages = len(document)
        if pages == 0:
            raise NoPreview("the PDF has no pages")
        if pages > limits.max_pdf_pages:
            raise NoPreview(f"the PDF has {pages} pages, over the {limits.max_pdf_pages} previewed")
        page = document[0]
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            raise NoPreview("the PDF's first page has no size")
        scale = min(SIZES["large"] / max(width, height), 4.0)
        if width * scale * height * scale > limits.max_pixels:
            raise NoPreview("the PDF's first page is too large to preview")
        bitmap = page.render(scale=scale)
        return _clean(bitmap.to_pil())
    except pdfium.PdfiumError as error:
        raise NoPreview(f"the PDF's first page cannot be drawn ({error})") from error
    finally:
        document.close()


def render(path: str, kind: str, limits: Limits) -> Image.Image:
    if kind == "image":
        return image_preview(path, limits)
    if kind == "pdf":
        return pdf_preview(path, limits)
    if kind == "dicom":
        from clinifile.previews.dicom import dicom_preview as dicom

        return dicom(path, limits)
    raise NoPreview(f"no preview for this kind of file ({kind})")


def sized(image: Image.Image, size: str) -> Image.Image:
    """A copy whose long side is at most SIZES[size] (never enlarged)."""
    bound = SIZES[size]
    copy = image.copy()
    copy.thumbnail((bound, bound), Image.Resampling.LANCZOS)
    return copy


def webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue()
