"""Ed25519 keys that sign voucher codes; kept in files, never in the database.

A key id (1..255) travels in every token so keys can rotate: new vouchers use
the newest key, older vouchers stay verifiable while their key file is kept.
Public keys are published for offline verification by scanners.
"""

from __future__ import annotations

import base64
import os
from functools import cache
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pass_numerique.settings import get_settings


class PublicKey(msgspec.Struct, frozen=True):
    """A verification key as published to scanners."""

    kid: int
    algorithm: str
    public_key: str  # raw 32 bytes, base64url without padding


class KeyRing:
    """The signing keys found in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.private: dict[int, Ed25519PrivateKey] = {}
        for path in sorted(folder.glob("k*.pem")):
            kid = int(path.stem[1:])
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(loaded, Ed25519PrivateKey), f"{path} is not an Ed25519 key"
            self.private[kid] = loaded
        self.public: dict[int, Ed25519PublicKey] = {k: v.public_key() for k, v in self.private.items()}

    @property
    def current_kid(self) -> int:
        if not self.private:
            raise RuntimeError(
                f"No signing key in {self.folder}: run `pass-numerique migrate` or `keys rotate`."
            )
        return max(self.private)

    def seed(self, kid: int) -> bytes:
        """The private key's raw bytes, also the secret behind short codes of that key."""
        return self.private[kid].private_bytes_raw()

    def published(self) -> list[PublicKey]:
        return [
            PublicKey(
                kid=kid,
                algorithm="Ed25519",
                public_key=base64.urlsafe_b64encode(key.public_bytes_raw()).rstrip(b"=").decode(),
            )
            for kid, key in sorted(self.public.items())
        ]


def create_key(folder: Path) -> int:
    """Write a new key with the next key id and return that id."""
    folder.mkdir(parents=True, exist_ok=True)
    existing = [int(p.stem[1:]) for p in folder.glob("k*.pem")]
    kid = max(existing, default=0) + 1
    if kid > 255:
        raise RuntimeError("Key ids are one byte: archive old keys before rotating again.")
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = folder / f"k{kid}.pem"
    # Owner-only from the first byte: the key must never be world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    keyring.cache_clear()
    return kid


def ensure_key() -> None:
    """Create the first key when the folder has none (embedded mode, first start)."""
    folder = Path(get_settings().keys_dir)
    if not any(folder.glob("k*.pem")):
        create_key(folder)


@cache
def keyring() -> KeyRing:
    """The process-wide key ring, loaded once."""
    return KeyRing(Path(get_settings().keys_dir))
