"""Signed Sigma secure-embed URLs.

>>> from sigma_auth.embed import sign_url
>>> url = sign_url("https://app.sigmacomputing.com/my-org/workbook/w-1", embed_client_id,
...                embed_secret, email="viewer@example.com", ttl=3600, teams=["Sales"])

The claims are checked against what Sigma documents before signing, so a mistake
raises ``InvalidArgument`` naming the claim. The claims describe a user, not a
session. ``oauth_token`` and ``connection_oauth_tokens`` (``ver="1.1"`` only) are
passed through as given: encrypt them first, as Sigma's Node SDK does.
"""

from __future__ import annotations

import ctypes
import json
from typing import Union

from . import _native
from ._config import encode
from ._errors import check
from ._secret import Secret, hide

lib = _native.lib

__all__ = ["sign_url", "encrypt_oauth_token"]


def sign_url(url: str, client_id: str, secret: Union[str, Secret], *, email: str, ttl: int = 3600,
             **claims: object) -> str:
    """``url`` with ``:jwt=<token>`` and ``:embed=true`` appended: an HS256 JWT for
    the user ``email``, signed with the embed ``secret`` of the embed client
    ``client_id``, valid for ``ttl`` seconds (at most 30 days), with ``claims``
    (``first_name``, ``teams``, ``user_attributes``, ``account_type``, ...)."""
    secret = hide(secret)  # first: no frame of ours holds it in clear
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise TypeError("ttl must be int (seconds)")
    if "sub" in claims:
        raise TypeError("give the user as email=..., not sub=...")
    body = json.dumps({"sub": email, **claims})
    signed = ctypes.c_void_p()
    error = _native.error_p()
    check(lib.sigma_embed_sign_url(encode("url", url), encode("client_id", client_id), secret._encode("secret"),
                                   encode("claims", body), min(max(ttl, 0), 0xFFFFFFFF),  # the library refuses
                                   ctypes.byref(signed), ctypes.byref(error)), error)          # what is out of range
    return _native.take_string(signed.value)


def encrypt_oauth_token(oauth_token: Union[str, Secret], secret: Union[str, Secret]) -> str:
    """A warehouse OAuth token encrypted for the ``oauth_token`` claim (``ver="1.1"``,
    ``aud="sigmacomputing"``), the way Sigma's Node embed SDK does it with the
    embed ``secret``: pass the result to ``sign_url(..., oauth_token=...)``."""
    token, secret = hide(oauth_token), hide(secret)
    encrypted = ctypes.c_void_p()
    error = _native.error_p()
    check(lib.sigma_embed_encrypt_oauth_token(token._encode("oauth_token"), secret._encode("secret"),
                                              ctypes.byref(encrypted), ctypes.byref(error)), error)
    return _native.take_string(encrypted.value)
