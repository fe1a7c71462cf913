"""Real files for the preview tests, made here: images by Pillow, PDFs by pypdfium2 or by
hand, DICOM studies by pydicom. Each has something known at a known place."""

from __future__ import annotations

import io
import os

import numpy as np
import pydicom
import pypdfium2 as pdfium
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

RED = (255, 0, 0)
BLUE = (0, 0, 255)
PATIENT_NAME = "Secretname^Patricia"
PATIENT_ID = "MRN-77123"


def halves(width: int = 800, height: int = 400) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(BLUE, (width // 2, 0, width, height))
    return image


def image_bytes(fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image = halves()
    if fmt == "GIF":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    image.save(out, format=fmt, **params)
    return out.getvalue()


def heic() -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return image_bytes("HEIF", quality=90)


def rotated_jpeg_with_gps() -> bytes:
    """Stored 800 x 400, left red, right blue, with EXIF orientation 6 (turn 90 degrees
    clockwise to view: 400 x 800, red on top) and a GPS position and camera owner."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0xA430] = "Dr Secret Owner"  # CameraOwnerName
    exif.get_ifd(0x8825).update({1: "S", 2: (33.0, 51.0, 54.0), 3: "E", 4: (151.0, 12.0, 36.0)})
    return image_bytes("JPEG", exif=exif, quality=95)


def pdf_with_red_square() -> bytes:
    """One A4 page, white, with a red square at its top left quarter-width (written by hand:
    pdfium draws content streams it did not write)."""
    content = b"1 0 0 rg 0 421 297 421 re f"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    return _pdf(objects, b"<< /Size 5 /Root 1 0 R >>")


def encrypted_pdf() -> bytes:
    """A PDF locked with a user password nobody here knows (standard security handler, R2):
    no viewer opens it without the password."""
    secret = os.urandom(32).hex().encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + secret + b"> /U <" + secret[::-1] + b"> /P -4 >>",
    ]
    trailer = b"<< /Size 5 /Root 1 0 R /Encrypt 4 0 R /ID [<0123456789abcdef0123456789abcdef>" + (
        b" <0123456789abcdef0123456789abcdef>] >>"
    )
    return _pdf(objects, trailer)


def _pdf(objects: list[bytes], trailer: bytes) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def many_page_pdf(pages: int) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(200, 200)
    out = io.BytesIO()
    document.save(out)
    document.close()
    return out.getvalue()


def _dicom(pixels: np.ndarray, **tags: object) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.Modality = "OT"
    frames = pixels.shape[0] if pixels.ndim == 3 else 1
    ds.Rows, ds.Columns = pixels.shape[-2], pixels.shape[-1]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    for name, value in tags.items():
        setattr(ds, name, value)
    ds.PixelData = pixels.astype("<u2").tobytes()
    out = io.BytesIO()
    pydicom.dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def dicom_left_bright(photometric: str = "MONOCHROME2") -> bytes:
    """256 x 128: the left half at 1000, the right at 0, windowed 500 +- 500."""
    pixels = np.zeros((128, 256), dtype=np.uint16)
    pixels[:, :128] = 1000
    return _dicom(pixels, PhotometricInterpretation=photometric, WindowCenter=500, WindowWidth=1000)


def dicom_multiframe(frames: int = 5) -> bytes:
    """frames of 64 x 64: the middle one's left half bright, every other frame's right half."""
    pixels = np.zeros((frames, 64, 64), dtype=np.uint16)
    pixels[:, :, 32:] = 4000
    pixels[frames // 2] = 0
    pixels[frames // 2, :, :32] = 4000
    return _dicom(pixels)


def dicom_bomb() -> bytes:
    """A header claiming 60,000 x 60,000 pixels over a few bytes of pixel data."""
    small = _dicom(np.zeros((2, 2), dtype=np.uint16))
    ds = pydicom.dcmread(io.BytesIO(small))
    ds.Rows, ds.Columns = 60000, 60000
    out = io.BytesIO()
    pydicom.dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def png_bomb() -> bytes:
    """A PNG of 12,000 x 12,000 pixels (144 megapixels, over the limit) in a few KB."""
    image = Image.new("1", (12000, 12000))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def dicom_compressed(transfer_syntax: str) -> bytes:
    """dicom_left_bright's study, compressed (RLE by pydicom, JPEG 2000 by pylibjpeg-openjpeg)."""
    ds = pydicom.dcmread(io.BytesIO(dicom_left_bright()))
    ds.compress(transfer_syntax)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
