"""The processing worker: claims attachments and finishes them."""
