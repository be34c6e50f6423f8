"""The one bounded reader for untrusted arrays and images: sizes are checked from headers, before inflating.

A 3 MB .npz can declare a 3 GB array, a member can claim the encrypted flag or an unknown compression
method, a header can promise far more data than the file holds. Everything here reads the declared
shape and dtype first, refuses what is over the caps (frames, pixels per frame, bytes), then reads at
most the declared number of bytes, so memory is bounded by the caps whatever the file says.
Used by the scorer's prediction decoder and by the leaderboard's entry checks alike.
"""
from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass
from typing import IO, Callable

import numpy as np

#: Bytes one decoded array may take (its declared shape x dtype), checked before any data is read.
DEFAULT_MAX_ARRAY_BYTES = 1 << 30
#: Longest .npy header accepted (numpy writes < 200 bytes; its own cap is 10,000).
MAX_HEADER_BYTES = 10_000
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


class ArrayProblem(ValueError):
    """The array (or image) cannot be read safely; the message completes "<file>: ...". """


@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool

    @property
    def nbytes(self) -> int:
        n = self.dtype.itemsize
        for d in self.shape:
            n *= d
        return n


def read_npy_header(fp: IO[bytes]) -> NpyHeader:
    """Magic, version and header dict of a .npy stream; leaves `fp` at the first data byte."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp, max_header_size=MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp, max_header_size=MAX_HEADER_BYTES)
        else:
            raise ArrayProblem(f"unsupported .npy format version {version[0]}.{version[1]}")
    except ArrayProblem:
        raise
    except Exception as exc:  # numpy raises ValueError, EOFError, SyntaxError... for a bad header
        raise ArrayProblem(f"not a valid .npy header ({type(exc).__name__}: {str(exc)[:120]})") from None
    dtype = np.dtype(dtype)
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ArrayProblem(f"object array (a pickle) or structured dtype {dtype}; only plain numeric arrays are read")
    if dtype.kind not in "biuf":
        raise ArrayProblem(f"unsupported dtype {dtype}")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise ArrayProblem(f"invalid shape {list(shape)}")
    return NpyHeader(tuple(int(d) for d in shape), dtype, bool(fortran))


def check_size(header: NpyHeader, max_bytes: int = DEFAULT_MAX_ARRAY_BYTES) -> None:
    """Refuse an array whose declared size is over `max_bytes` (nothing has been inflated yet)."""
    if header.nbytes > max_bytes:
        raise ArrayProblem(f"shape {list(header.shape)} {header.dtype} declares {header.nbytes} bytes, over the "
                           f"{max_bytes}-byte cap (not read)")


def _from_bytes(header: NpyHeader, data: bytes) -> np.ndarray:
    if len(data) != header.nbytes:
        raise ArrayProblem(f"header says shape {list(header.shape)} {header.dtype} ({header.nbytes} bytes) but the "
                           f"data holds {len(data)} bytes{'' if len(data) < header.nbytes else ' or more'}")
    arr = np.frombuffer(data, dtype=header.dtype)
    return arr.reshape(header.shape[::-1]).transpose() if header.fortran else arr.reshape(header.shape)


def read_array(fp: IO[bytes], check: "Callable[[NpyHeader], None]") -> np.ndarray:
    """Header, then `check(header)` (raise to refuse), then exactly the declared bytes: never more is read."""
    header = read_npy_header(fp)
    check(header)
    try:
        data = fp.read(header.nbytes + 1)  # one byte more tells a file longer than its header from an exact one
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # zlib.error is an Exception too
        raise ArrayProblem(f"corrupt array data ({type(exc).__name__}: {str(exc)[:120]})") from None
    except Exception as exc:
        raise ArrayProblem(f"corrupt array data ({type(exc).__name__})") from None
    return _from_bytes(header, data)


def array_from_bytes(data: bytes, check: "Callable[[NpyHeader], None]") -> np.ndarray:
    """A whole .npy file already in memory: like `read_array`, but a view of `data` (no second copy)."""
    fp = io.BytesIO(data)
    header = read_npy_header(fp)
    check(header)
    offset = fp.tell()
    if len(data) - offset != header.nbytes:
        return _from_bytes(header, data[offset:offset + header.nbytes + 1])  # names the mismatch
    arr = np.frombuffer(data, dtype=header.dtype, count=int(np.prod(header.shape)), offset=offset)
    return arr.reshape(header.shape[::-1]).transpose() if header.fortran else arr.reshape(header.shape)


def open_npz(data: "bytes | str", max_members: int = 20_000) -> zipfile.ZipFile:
    """A .npz as a ZipFile (bytes or a path), refusing archives that are not one."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ArrayProblem(f"not a valid .npz/zip archive ({str(exc)[:120]})") from None
    if len(infos) > max_members:
        raise ArrayProblem(f"{len(infos)} members, over the {max_members}-member limit")
    return zf


def member_problem(info: zipfile.ZipInfo) -> "str | None":
    """Why a zip member cannot be read without trusting it (encrypted, unknown method), else None."""
    if info.flag_bits & 0x1:
        return "is encrypted (np.savez never encrypts)"
    if info.compress_type not in _ZIP_METHODS:
        return f"uses compression method {info.compress_type} (np.savez writes only stored or deflate)"
    return None


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, check: "Callable[[NpyHeader], None]") -> np.ndarray:
    """One .npy member, bounded like `read_array`; the member's own declared size must agree too."""
    why = member_problem(info)
    if why:
        raise ArrayProblem(f"member {info.filename!r} {why}")
    try:
        fp = zf.open(info)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArrayProblem(f"member {info.filename!r} cannot be opened ({str(exc)[:120]})") from None
    with fp:
        return read_array(fp, check)


def png_size(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk, read before any pixel is inflated."""
    if len(data) < 33 or data[:8] != _PNG_MAGIC or data[12:16] != b"IHDR":
        raise ArrayProblem("not a PNG (no PNG signature and IHDR chunk)")
    w, h, depth, colour = struct.unpack(">IIBB", data[16:26])
    return w, h, depth, colour
