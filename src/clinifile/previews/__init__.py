"""Previews of completed files: small and large WebP images of an image's pixels, a PDF's
first page or a DICOM study's middle frame, made in a child process under a time limit and
a memory bound (previews.sandbox), never failing the attachment."""
