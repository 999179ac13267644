"""URLs and messages without their secrets: one masking rule for every URL the package shows or stores.

A URL can carry a secret in three places, and each is masked:

* its user part: `scheme://user:PASSWORD@host` keeps the user name and masks the password. A password
  may hold an unescaped `@`, `/`, `?` or `#` (people paste them so): the user part ends at the LAST
  `@` (see `_split`). A bare user part that looks like a token (`https://TOKEN@host`, 20 characters
  or more) is masked whole;
* its query and fragment: values of token-like keys (password, token, access_token, api_key, secret,
  auth, sig, signature, credential, session, ...: see `is_secret_key`) become `***`;
* a URL that cannot be parsed is never echoed whole: `<unparseable URL>`.

`mask_text(text, url)` cleans a message: every URL quoted in it is masked, and, since a message may
quote parts of `url` in ways the URL parser did not foresee (a database driver that took
`user:S3cret@PW@host` apart differently reports the host `PW@host`), every secret fragment of `url`
(the password, each piece of it around an `@`, token values, raw, percent-decoded and encoded) is
replaced by `***` wherever it appears. Without `url`, only the URLs quoted in the text are masked.

Standard library only: a run's start path names its store with it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

MASK = "***"
UNPARSEABLE = "<unparseable URL>"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.S)
# parts of a query key that mark its value as a secret (compared without case, '-' or '_')
_SECRET_PARTS = ("pass", "pwd", "token", "secret", "key", "auth", "sig", "credential", "session", "cookie", "sas")
_USER_COLON = re.compile(r"[^/?#@:\[]*:")  # a user name, then the ':' before a password
TOKEN_LIKE_USER = 20  # a bare user part this long is taken for a token and masked
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{}]*")  # a URL quoted in a message


def is_secret_key(key: str) -> bool:
    """Whether a query key names a secret: password, sslpassword, passfile, token, access_token,
    api_key, apikey, key, secret, client_secret, auth, sig, signature, X-Amz-Credential, ..."""
    plain = key.lower().replace("-", "").replace("_", "")
    return any(part in plain for part in _SECRET_PARTS)


def mask_url(url: str) -> str:
    """`url` with its password, token-like query values and token-like user masked (see the module)."""
    parts = _split(url)
    if parts is None:
        return UNPARSEABLE if ("://" in url or "@" in url) else url
    scheme, userinfo, rest = parts
    if userinfo is not None:
        user, has_password, _ = userinfo.partition(":")
        if has_password:
            shown_user = MASK if len(user) >= TOKEN_LIKE_USER else user
            userinfo = f"{shown_user}:{MASK}"
        else:
            userinfo = MASK if len(user) >= TOKEN_LIKE_USER else user
        rest = f"{userinfo}@{rest}"
    return f"{scheme}://{_mask_params(rest)}"


def mask_text(text: str, url: str | None = None) -> str:
    """`text` (a driver's or a library's message, say) with every URL in it masked, and without any
    secret fragment of `url` (the URL the message is about) wherever it appears."""
    if url and url in text:
        text = text.replace(url, mask_url(url))
    text = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
    if not url:
        return text
    for secret in sorted(secret_fragments(url), key=len, reverse=True):
        if len(secret) >= 6:  # long enough to be found only where it was quoted
            text = text.replace(secret, MASK)
        else:  # short pieces only as whole words, not inside other words
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    return text


def secret_fragments(url: str) -> set[str]:
    """Every piece of `url` a message must not show: password, its pieces around '@', token values."""
    found: set[str] = set()
    parts = _split(url)
    if parts is None:  # unparseable: anything between '://' or the start and the last '@' may be a secret
        head = url.split("://", 1)[-1]
        if "@" in head:
            found |= _pieces(head.rpartition("@")[0])
        return {f for f in found if f}
    _, userinfo, rest = parts
    if userinfo is not None:
        user, has_password, password = userinfo.partition(":")
        if has_password:
            found |= _pieces(password)
        if len(user) >= TOKEN_LIKE_USER:
            found |= _pieces(user)
    for key, value in _params(rest):
        if is_secret_key(key) and value:
            found |= _pieces(value)
    return {f for f in found if f}


def _pieces(secret: str) -> set[str]:
    """A secret as written, decoded and encoded, and each piece a parser could split off at '@', ':', '/'."""
    out = {secret, unquote(secret), quote(unquote(secret), safe="")}
    for s in list(out):
        for sep in ("@", ":", "/"):
            if sep in s:
                chunks = s.split(sep)
                out |= set(chunks)
                out |= {sep.join(chunks[i:]) for i in range(1, len(chunks))}
                out |= {sep.join(chunks[:i]) for i in range(1, len(chunks))}
    return {s for s in out if s.strip()}


def _split(url: str) -> tuple[str, str | None, str] | None:
    """(scheme, user part or None, the rest after it), or None when `url` has no scheme.

    The user part ends at the LAST '@' when what comes before it is `name:` followed by anything (a
    password may hold '@', '/', '?' or '#', unescaped), or holds no '/', '?', '#' (a bare user name).
    So a URL whose query or path holds an '@' after a port (`h:9090/x?q=a@b`) is masked too much,
    never too little."""
    m = _SCHEME.match(url)
    if not m:
        return None
    scheme, rest = m.group(1), m.group(2)
    at = rest.rfind("@")
    if rest.startswith("/") or at < 0:  # no authority (sqlite:///path: an '@' is part of a file name), no user
        return scheme, None, rest
    userinfo = rest[:at]
    if _USER_COLON.match(userinfo) or not re.search(r"[/?#]", userinfo):
        return scheme, userinfo, rest[at + 1:]
    return scheme, None, rest


def _params(rest: str) -> list[tuple[str, str]]:
    """(key, value) pairs of the query and the fragment."""
    pairs = []
    for m in re.finditer(r"[?#&;]([^=&;#?]*)=([^&;#]*)", rest):
        pairs.append((unquote(m.group(1)), m.group(2)))
    return pairs


def _mask_params(rest: str) -> str:
    """The rest of a URL with the values of secret keys in its query and fragment masked, the text
    otherwise as given (not re-encoded)."""
    cut = re.search(r"[?#]", rest)
    if cut is None:
        return rest
    head, tail = rest[:cut.start()], rest[cut.start():]

    def mask(m: re.Match[str]) -> str:
        return f"{m.group(1)}{m.group(2)}={MASK}" if is_secret_key(unquote(m.group(2))) else m.group(0)
    return head + re.sub(r"([?#&;])([^=&;#?]*)=([^&;#]*)", mask, tail)
