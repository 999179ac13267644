"""One masking rule for every URL: no secret of a URL survives mask_url or mask_text, whatever its shape."""

from __future__ import annotations

import itertools
import random
import string

import pytest

from mlfootprint.urlmask import UNPARSEABLE, is_secret_key, mask_text, mask_url, secret_fragments


@pytest.mark.parametrize("url,shown", [
    ("postgresql+psycopg://alice:s3cret@db.example/runs", "postgresql+psycopg://alice:***@db.example/runs"),
    ("postgresql://u:S3cret@PW@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"),  # an unescaped '@'
    ("postgresql://u:pa/ss@host:5432/db", "postgresql://u:***@host:5432/db"),  # an unescaped '/'
    ("postgresql://u:p?ss@host/db", "postgresql://u:***@host/db"),  # an unescaped '?'
    ("postgresql://user:t6E?TuZRI/YbN!K@[::1]:5432/db", "postgresql://user:***@[::1]:5432/db"),  # '?', then '/'
    ("postgresql://u:a#b@h/db", "postgresql://u:***@h/db"),  # an unescaped '#'
    ("http://h:9090/api?q=a@b", "http://h:***@b"),  # an '@' in the query after a port: masked too much, not too little
    ("postgresql://mlfp@db.internal/footprint", "postgresql://mlfp@db.internal/footprint"),  # no secret
    ("postgresql+psycopg://postgres@/db?host=/tmp/x&port=5432&password=PgS3cret!",
     "postgresql+psycopg://postgres@/db?host=/tmp/x&port=5432&password=***"),
    ("postgresql://h/db?sslmode=require&sslpassword=k3y&passfile=/home/u/.pgpass",
     "postgresql://h/db?sslmode=require&sslpassword=***&passfile=***"),
    ("https://prom.example:9090/api?token=abc&x=1#access_token=zzz", "https://prom.example:9090/api?token=***&x=1#access_token=***"),
    ("https://s3.example/b/k?X-Amz-Credential=AKIA&X-Amz-Signature=ff&X-Amz-Date=2026",
     "https://s3.example/b/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Date=2026"),
    ("https://ghp_0123456789abcdefghij0123@github.com/o/r", "https://***@github.com/o/r"),  # a token as the user
    ("databricks://token:dapi0123@host/db", "databricks://token:***@host/db"),
    ("sqlite:////data/run@home/runs.db", "sqlite:////data/run@home/runs.db"),  # '@' in a file name
    ("/data/runs.db", "/data/runs.db"),
    ("://user:S3cretPW@host/db", UNPARSEABLE),
    ("user:S3cretPW@host", UNPARSEABLE),
    ("http://127.0.0.1:8000/metrics", "http://127.0.0.1:8000/metrics"),
])
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert mask_url(shown) == shown, "masking a masked URL changes nothing"


@pytest.mark.parametrize("key,secret", [
    ("password", True), ("PASSWORD", True), ("sslpassword", True), ("passfile", True), ("pwd", True),
    ("token", True), ("access_token", True), ("api_key", True), ("apikey", True), ("api-key", True), ("key", True),
    ("secret", True), ("client_secret", True), ("auth", True), ("sig", True), ("signature", True),
    ("X-Amz-Security-Token", True), ("sessionid", True),
    ("host", False), ("port", False), ("sslmode", False), ("user", False), ("dbname", False), ("query", False),
    ("step", False), ("timeout", False),
])
def test_secret_query_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_the_driver_s_reading_of_a_password_with_an_at_is_masked_in_its_message() -> None:
    """R19: psycopg splits user:S3cret@PW@127.0.0.1 at the first '@' and names the host 'PW@127.0.0.1'."""
    url = "postgresql+psycopg://user:S3cret@PW@127.0.0.1:1/db"
    message = "failed to resolve host 'PW@127.0.0.1': [Errno -2] Name or service not known"
    masked = mask_text(message, url)
    assert "PW" not in masked and "S3cret" not in masked and "127.0.0.1" in masked
    assert mask_text(f"cannot open {url}: password S3cret@PW refused", url).count("***") >= 2
    assert "S3cret" not in mask_text("password=S3cret%40PW", "postgresql://u:S3cret%40PW@h/db")


def test_mask_text_leaves_messages_without_secrets_alone() -> None:
    assert mask_text("connection refused", "postgresql://u:longpassword@h/db") == "connection refused"
    assert mask_text("connection refused", None) == "connection refused"
    assert mask_text("user u on host h", "postgresql://u@h/db") == "user u on host h"


def _random_secret(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "@/?#:!$%&*-_.~+="
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 24)))


@pytest.mark.parametrize("seed", range(20))
def test_no_password_or_token_survives_in_any_url_or_message_that_quotes_it(seed: int) -> None:
    """Property: for random passwords and token values, with the characters people paste unescaped, neither
    the masked URL nor a message quoting the URL or any piece of the secret shows the secret."""
    rng = random.Random(seed)
    for _ in range(50):
        password, token = _random_secret(rng), _random_secret(rng)
        host = rng.choice(["db.example", "127.0.0.1", "[::1]", "h"])
        urls = [f"postgresql+psycopg://user:{password}@{host}:5432/db",
                f"postgresql://user:{password}@{host}/db?sslmode=require",
                f"https://{host}/api/v1/query?token={token.replace('&', '').replace('#', '')}&step=15",
                f"mysql://user@{host}/db?password={token.replace('&', '').replace('#', '')}"]
        for url in urls:
            secrets = secret_fragments(url)
            shown = mask_url(url)
            longest = max(secrets, key=len)
            assert longest not in shown, (url, shown)
            for piece in itertools.islice(sorted(secrets, key=len, reverse=True), 3):
                if len(piece) >= 6:
                    assert piece not in mask_text(f"error at {url}: bad value {piece!r} near {piece}@{host}", url)


def test_mask_text_without_a_url_masks_every_url_quoted_in_the_message() -> None:
    message = ("HTTPConnectionPool(host='h'): Max retries exceeded with url: http://u:pw1234@h:5000/api?token=abc "
               "(Caused by https://x.example/a?api_key=k3y&b=2)")
    masked = mask_text(message)
    assert "pw1234" not in masked and "token=abc" not in masked and "k3y" not in masked
    assert "http://u:***@h:5000/api?token=***" in masked and "https://x.example/a?api_key=***&b=2" in masked
    assert mask_text("no address here") == "no address here"
