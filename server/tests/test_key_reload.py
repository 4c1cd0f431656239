"""A key rotation reaches every running process without a restart (the keys file is re-read when it changes).

Two apps run in-process on one database and one keys file, as two server processes (or hosts with a
shared file) would. One of them, or ``totpkit keys rotate``, changes the file; the other must use the
new keys at its next request: publish the new signing key, open secrets sealed under the new sealing key.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from totpkit_server import TOTPKitConfig
from totpkit_server.core.tokens import SigningKey
from totpkit_server.key_rotation import with_new_sealing_key, with_new_signing_key
from totpkit_server.keys import KeyFileWatcher, keys_file_of, read_keys_file, replace_keys_file, write_keys_file

pytestmark = pytest.mark.both_backends


@pytest.fixture
def keys_path(tmp_path: Path, make_config: Callable[..., TOTPKitConfig]) -> Path:
    path = tmp_path / "shared-keys.json"
    write_keys_file(path, make_config(dev_keys=True))
    return path


async def start(live_apps: Any, make_config: Callable[..., TOTPKitConfig], keys_path: Path) -> Any:
    """An app configured like ``totpkit serve --keys-file keys_path``."""
    keys = read_keys_file(keys_path)
    config = make_config(
        key_ring=keys.key_ring, signing_keys=keys.signing_keys, secret_key=keys.secret_key, keys_file=keys_path
    )
    return await live_apps.start(config)


def rotate(path: Path) -> tuple[str, str]:
    """Rotate both keys in the file as ``totpkit keys rotate`` does; returns the new (sealing, signing) ids."""
    keys = with_new_sealing_key(read_keys_file(path), seeded_bytes())
    keys = with_new_signing_key(keys, SigningKey.generate("ins_rotatedsigningkey000000000"))
    replace_keys_file(path, keys)
    return keys.key_ring.active_key_id, keys.signing_keys[0].kid


def seeded_bytes() -> Callable[[int], bytes]:
    import random

    return random.Random(7).randbytes


async def test_rotation_reaches_a_running_app(
    live_apps: Any, make_config: Callable[..., TOTPKitConfig], keys_path: Path
) -> None:
    """After a rotation, both running apps publish the new signing key; a TOTP enrolled through one
    (sealed under the new sealing key) signs in through the other; old secrets still open."""
    one = await start(live_apps, make_config, keys_path)
    two = await start(live_apps, make_config, keys_path)
    before = await one.enrolled_user()  # sealed under the first key
    sealing_id, signing_id = rotate(keys_path)

    for kit in (one, two):
        assert signing_id in await kit.public_keys()
    after = await one.enrolled_user()  # sealed under the new key by app one
    for enrolled in (after, before):
        device, sign_in_id = await two.second_factor_sign_in(enrolled.email)
        response = await two.attempt_second_factor(device, sign_in_id, "totp", two.code(enrolled.secret))
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "complete"
        two.next_step()
    session_id = await one.active_session_id(after.device)
    token = await two.http.post(
        f"/v1/client/sessions/{session_id}/tokens",
        params={"_is_native": "1"},
        headers={"Authorization": after.device.token},
    )
    assert token.status_code == 200, token.text
    header = json.loads(base64.urlsafe_b64decode(token.json()["jwt"].split(".")[0] + "=="))
    assert header["kid"] == signing_id
    assert sealing_id in read_keys_file(keys_path).key_ring.key_ids


def test_an_unreadable_file_keeps_the_keys_last_read(keys_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A half-deployed or broken file does not take the keys away; the next valid file is read."""
    watcher = KeyFileWatcher(keys_path, read_keys_file(keys_path))
    first = watcher.current()
    keys_path.write_text("{ not json", "utf-8")
    with caplog.at_level(logging.WARNING, logger="totpkit"):
        assert watcher.current() is first
    assert "keeping the keys last read" in caplog.text
    replace_keys_file(keys_path, with_new_sealing_key(first, seeded_bytes()))
    assert watcher.current().key_ring.active_key_id != first.key_ring.active_key_id


def test_which_file_is_watched(tmp_path: Path, make_config: Callable[..., TOTPKitConfig], keys_path: Path) -> None:
    """``--keys-file`` is watched; development keys are watched in the data directory; keys given in
    the config (a host app's) are never replaced by a file."""
    assert keys_file_of(make_config(keys_file=keys_path)) == keys_path
    assert keys_file_of(make_config(dev_keys=True)) == tmp_path / "keys.json"
    assert keys_file_of(make_config()) is None
    assert keys_file_of(make_config(dev_keys=True, secret_key="sk_test_given")) is None
