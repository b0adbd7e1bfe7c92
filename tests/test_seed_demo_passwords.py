"""`seed_demo`'s generated passwords can be pasted anywhere: none begins with a hyphen."""

import re

from cases.management.commands import seed_demo
from tests.test_seed_demo import log_in, seed


def test_a_generated_password_never_begins_with_a_hyphen(db, monkeypatch):
    # What secrets.token_urlsafe returns in turn: the first would read as a command-line option.
    drawn = iter(["-Kq3vTz8Wm1Xb2Yc", "Lr4wUa9Xn2Yc3Zd5", "Ms5xVb0Yo3Zd4Ae6", "Nt6yWc1Zp4Ae5Bf7"])
    monkeypatch.setattr(seed_demo.secrets, "token_urlsafe", lambda nbytes: next(drawn))
    passwords = dict(re.findall(r"(demo_\w+)\s+(\S+)$", seed(), flags=re.MULTILINE))
    assert len(passwords) == 3 and not any(password.startswith("-") for password in passwords.values())
    assert all(log_in(username, password) for username, password in passwords.items())
