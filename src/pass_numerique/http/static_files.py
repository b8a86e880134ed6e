"""The file system the static routers (``/static``, Swagger UI's assets) read from."""

from __future__ import annotations

from typing import Any

from litestar.file_system import BaseLocalFileSystem
from litestar.types import FileInfo, PathType


class StaticFileSystem(BaseLocalFileSystem):
    """Litestar's local file system, where a path holding a NUL is a file that does not exist.

    ``os.stat`` raises ``ValueError`` on a NUL, which Litestar's static router lets through as a
    500 (``/static/%00``); a missing file is its 404.
    """

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        if "\x00" in str(path):
            raise FileNotFoundError(path)
        return await super().info(path, **kwargs)
