"""One budget of decompressed bytes for every parser of data sent from outside.

A few megabytes on the wire can inflate to gigabytes (a zip or gzip bomb, a PDF stream of zeros,
an XML document of nothing but tags). Every parser of uploaded bytes (e-invoice XML, the invoice
inside a Factur-X PDF, CSV imports) measures what it holds *after* decompression against this one
budget and stops as soon as it is exceeded, so memory stays bounded whatever the compression ratio.
"""

from __future__ import annotations

import zlib

MEGABYTE = 1024 * 1024
MAX_DECOMPRESSED_BYTES = 10 * MEGABYTE

# Magic numbers of compressed containers nobody should send where a document itself is expected.
_COMPRESSED_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty zip archive
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"(\xb5/\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
)


class OverBudgetError(ValueError):
    """More bytes than the budget once decompressed; `message` names what and the limit."""

    def __init__(self, what: str, limit: int = MAX_DECOMPRESSED_BYTES):
        self.what = what
        self.limit = limit
        self.message = f"{what} is more than {megabytes(limit)} once decompressed"
        super().__init__(self.message)


def megabytes(size: int) -> str:
    """10485760 -> "10 MB" (binary megabytes, as the limits are written)."""
    return f"{size / MEGABYTE:g} MB"


def require_within(size: int, what: str, limit: int = MAX_DECOMPRESSED_BYTES) -> None:
    """Raise `OverBudgetError` when `size` bytes of `what` exceed `limit`."""
    if size > limit:
        raise OverBudgetError(what, limit)


def inflate(
    data: bytes, what: str, *, limit: int = MAX_DECOMPRESSED_BYTES, wbits: int = zlib.MAX_WBITS
) -> bytes:
    """Decompress zlib/deflate `data`, refusing output beyond `limit` without ever producing it.

    `max_length` makes zlib stop after limit + 1 bytes, however much the input would expand to, so
    a bomb costs at most the budget in memory. Raises `zlib.error` for corrupt data.
    """
    decompressor = zlib.decompressobj(wbits)
    output = decompressor.decompress(data, limit + 1)
    if len(output) > limit:
        raise OverBudgetError(what, limit)
    return output


def compressed_format(data: bytes) -> str | None:
    """ "gzip", "zip", ... when `data` starts like a compressed container; None otherwise."""
    for magic, name in _COMPRESSED_MAGIC:
        if data.startswith(magic):
            return name
    return None
