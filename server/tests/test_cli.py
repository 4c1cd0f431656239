"""The ``totpkit`` command: in-process for migrate/create-user/keys, a real process for ``serve``."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from totpkit.otp import totp_code
from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.cli import build_parser, main
from totpkit_server.keys import KeyConfigurationError, read_keys_file, write_keys_file
from totpkit_server.storage._sqlite_migrations import MIGRATIONS
from totpkit_server.testing import serve

PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestMigrate:
    def test_migrate_twice(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """migrate creates the database at the latest version; running it again changes nothing."""
        assert main(["migrate", "--data-dir", str(tmp_path)]) == 0
        assert capsys.readouterr().out.strip() == f"schema version {len(MIGRATIONS)}"
        assert (tmp_path / "totpkit.db").exists()
        assert main(["migrate", "--data-dir", str(tmp_path)]) == 0
        assert capsys.readouterr().out.strip() == f"schema version {len(MIGRATIONS)}"


class TestCreateUser:
    def test_create_user_prints_id_and_refuses_duplicates(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """create-user prints the new id; the same email again (any case) exits 1 with a message."""
        args = ["create-user", "--data-dir", str(tmp_path), "--email", "cli@example.com", "--password", PASSWORD]
        assert main(args) == 0
        out = capsys.readouterr().out.strip()
        assert out.startswith("user_")
        assert len(out.splitlines()) == 1
        duplicate = ["create-user", "--data-dir", str(tmp_path), "--email", "CLI@example.com", "--password", PASSWORD]
        assert main(duplicate) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "form_identifier_exists" in captured.err

    def test_short_password_exits_1(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A too-short password is refused with exit status 1."""
        assert (
            main(["create-user", "--data-dir", str(tmp_path), "--email", "a@example.com", "--password", "short"]) == 1
        )
        assert "password" in capsys.readouterr().err

    async def test_created_user_can_sign_in_with_imported_secret(
        self,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        make_config: Callable[..., TOTPKitConfig],
    ) -> None:
        """A user made with --password-stdin and --totp-secret signs in on a server over the same data dir."""
        monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        args = ["create-user", "--data-dir", str(tmp_path), "--email", "mfa@example.com", "--password-stdin"]
        assert await asyncio.to_thread(main, [*args, "--totp-secret", SECRET]) == 0  # main() runs its own loop
        user_id = capsys.readouterr().out.strip()
        config = make_config(dev_keys=True)
        assert config.data_dir == tmp_path
        async with AsyncTestClient(create_app(config), base_url="http://testserver.local") as http:
            started = await http.post(
                "/v1/client/sign_ins",
                params={"_is_native": "1"},
                data={"identifier": "mfa@example.com", "password": PASSWORD},
                headers={"Authorization": ""},
            )
            assert started.json()["response"]["status"] == "needs_second_factor", started.text
            done = await http.post(
                f"/v1/client/sign_ins/{started.json()['response']['id']}/attempt_second_factor",
                params={"_is_native": "1"},
                data={"strategy": "totp", "code": totp_code(SECRET, at=config.clock())},
                headers={"Authorization": started.headers["authorization"]},
            )
            assert done.status_code == 200, done.text
            assert done.json()["client"]["sessions"][0]["user"]["id"] == user_id


class TestKeysGenerate:
    def test_generate_writes_0600_and_refuses_to_overwrite(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """keys generate writes a readable keys file with mode 0600 and never overwrites one."""
        output = tmp_path / "prod" / "keys.json"
        assert main(["keys", "generate", "--output", str(output)]) == 0
        assert mode(output) == 0o600
        keys = read_keys_file(output)
        assert keys.secret_key.startswith("sk_")
        assert keys.signing_keys
        before = output.read_bytes()
        capsys.readouterr()
        assert main(["keys", "generate", "--output", str(output)]) == 1
        assert "refusing" in capsys.readouterr().err
        assert output.read_bytes() == before

    def test_production_without_keys_refuses(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """serve --production without its settings exits 2 with a one-line reason and writes no keys."""
        status = main(["serve", "--production", "--data-dir", str(tmp_path), "--port", "1"])
        assert status == 2
        err = capsys.readouterr().err
        assert err.startswith("totpkit: production mode needs"), err
        assert len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "keys.json").exists()

    def test_generate_makes_marked_production_keys(self, tmp_path: Path) -> None:
        """keys generate writes production keys (sk_live_, marked) that production accepts; the data
        directory's development keys (sk_test_, marked) are refused by production."""
        output = tmp_path / "prod-keys.json"
        assert main(["keys", "generate", "--output", str(output)]) == 0
        document = json.loads(output.read_text("utf-8"))
        assert document["environment"] == "production"
        assert document["secret_key"].startswith("sk_live_")
        assert read_keys_file(output, production=True).environment == "production"
        dev = tmp_path / "data" / "keys.json"
        write_keys_file(dev, TOTPKitConfig(data_dir=dev.parent))
        assert json.loads(dev.read_text("utf-8"))["environment"] == "development"
        assert read_keys_file(dev).secret_key.startswith("sk_test_")
        with pytest.raises(KeyConfigurationError, match="development keys"):
            read_keys_file(dev, production=True)


def _without_keys_file() -> dict[str, str]:
    """The environment, minus a ``TOTPKIT_KEYS_FILE`` the developer may have set."""
    return {k: v for k, v in os.environ.items() if k != "TOTPKIT_KEYS_FILE"}


class TestServeProcess:
    def test_serve_with_generated_dev_keys(self, tmp_path: Path) -> None:
        """serve starts, answers /v1/environment, prints a dev-keys banner and writes keys.json with mode 0600."""
        data_dir = tmp_path / "data"
        with serve(data_dir, env=_without_keys_file()) as server:
            response = httpx.get(f"{server.url}/v1/environment", timeout=10)
            assert response.json()["display_config"]["instance_environment_type"] == "development"
            banner = server.log_path.read_text(errors="replace")
            assert "DEVELOPMENT KEYS" in banner
            keys_file = data_dir / "keys.json"
            assert mode(keys_file) == 0o600
            secret_key = json.loads(keys_file.read_text())["secret_key"]
            assert secret_key in banner
            created = httpx.post(
                f"{server.url}/v1/users",
                json={"email_address": ["proc@example.com"], "password": PASSWORD},
                headers={"Authorization": f"Bearer {secret_key}"},
                timeout=10,
            )
            assert created.status_code == 200, created.text
            assert server.is_alive()

    def test_serve_production_refuses_without_origins_and_issuer(self, tmp_path: Path) -> None:
        """A real ``serve --production --keys-file`` without allowed origins and an issuer URL exits 2 with
        a one-line message naming both (no traceback) and starts nothing."""
        keys_file = tmp_path / "prod-keys.json"
        assert main(["keys", "generate", "--output", str(keys_file)]) == 0
        command = [sys.executable, "-m", "totpkit_server", "serve", "--production", "--keys-file", str(keys_file)]
        result = subprocess.run(
            [*command, "--data-dir", str(tmp_path / "data")],
            capture_output=True,
            text=True,
            timeout=60,
            env=_without_keys_file(),
            check=False,
        )
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [
            "totpkit: production mode needs allowed_origins (--allowed-origins) and issuer_url (--issuer-url)"
        ]
        assert not (tmp_path / "data" / "keys.json").exists()

    def test_serve_production_from_flags_and_environment(self, tmp_path: Path) -> None:
        """A real production server configured only by flags and ``TOTPKIT_*`` variables starts, says it is
        production, grants CORS to the listed origin only, refuses the dev browser and sets a Secure
        ``__client`` cookie; the banner does not print the Backend API key."""
        keys_file = tmp_path / "prod-keys.json"
        assert main(["keys", "generate", "--output", str(keys_file)]) == 0
        env = {**_without_keys_file(), "TOTPKIT_ISSUER_URL": "https://auth.example.com"}
        args = ("--production", "--keys-file", str(keys_file), "--allowed-origins", "https://app.example.com")
        with serve(tmp_path / "data", args=args, env=env) as server:
            environment = httpx.get(f"{server.url}/v1/environment", timeout=10).json()
            assert environment["display_config"]["instance_environment_type"] == "production"
            allowed = httpx.put(f"{server.url}/v1/client", headers={"Origin": "https://app.example.com"}, timeout=10)
            assert allowed.status_code == 200, allowed.text
            assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
            assert "secure" in allowed.headers["set-cookie"].lower()
            refused = httpx.put(f"{server.url}/v1/client", headers={"Origin": "https://evil.example"}, timeout=10)
            assert refused.status_code == 400
            assert refused.json()["errors"][0]["code"] == "origin_invalid"
            assert not any(name.startswith("access-control-") for name in refused.headers)
            dev_browser = httpx.post(f"{server.url}/v1/dev_browser", timeout=10)
            assert dev_browser.status_code == 400
            assert dev_browser.json()["errors"][0]["code"] == "request_invalid_for_environment"
            assert "sk_live_" not in server.log_path.read_text(errors="replace")
            assert not (tmp_path / "data" / "keys.json").exists()

    async def test_production_with_keys_file_in_process(self, tmp_path: Path) -> None:
        """Keys from ``keys generate``, read for production, run a production app: production environment,
        the sk_live_ key opens the Backend API, and no development keys are generated."""
        keys_file = tmp_path / "prod-keys.json"
        assert main(["keys", "generate", "--output", str(keys_file)]) == 0
        keys = read_keys_file(keys_file, production=True)
        data_dir = tmp_path / "data"
        config = TOTPKitConfig(
            data_dir=data_dir,
            production=True,
            allowed_origins=("https://app.example.com",),
            issuer_url="https://auth.example.com",
            key_ring=keys.key_ring,
            signing_keys=keys.signing_keys,
            secret_key=keys.secret_key,
        )
        async with AsyncTestClient(create_app(config), base_url="https://auth.example.com") as http:
            environment = await http.get("/v1/environment")
            assert environment.json()["display_config"]["instance_environment_type"] == "production"
            missing = await http.get("/v1/users/user_nope", headers={"Authorization": f"Bearer {keys.secret_key}"})
            assert missing.status_code == 404, missing.text
        assert not (data_dir / "keys.json").exists()

    def test_production_process_without_keys_exits(self, tmp_path: Path) -> None:
        """A real ``serve --production`` without keys or settings exits 2 with a clear one-line message."""
        env = _without_keys_file()
        result = subprocess.run(
            [sys.executable, "-m", "totpkit_server", "serve", "--production", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("totpkit: production mode needs"), result.stderr
        assert not (tmp_path / "keys.json").exists()


_COMMAND = (sys.executable, "-m", "totpkit_server")


def _totpkit(*args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    """A real ``totpkit`` process (its stdin is not a terminal)."""
    return subprocess.run(
        [*_COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_without_keys_file(),
        stdin=stdin,
        check=False,
    )


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


class TestServeBinding:
    def test_banner_comes_after_the_port_is_bound(self, tmp_path: Path) -> None:
        """When the banner is printed the server already accepts connections (``--port 0``: the real port)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "totpkit_server", "serve", "--port", "0", "--data-dir", str(tmp_path / "d")],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env={**_without_keys_file(), "PYTHONUNBUFFERED": "1"},
            text=True,
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            match = re.fullmatch(r"totpkit listening on (http://127\.0\.0\.1:(\d+))\n", first)
            assert match is not None, first
            assert int(match.group(2)) != 0
            live = httpx.get(f"{match.group(1)}/healthz", timeout=10)  # no retry: it must answer now
            assert live.status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=20)

    def test_taken_port_is_one_line_naming_the_flag(self, tmp_path: Path) -> None:
        """A port someone else listens on: exit non-zero, one line naming ``--port``, no banner, no traceback."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = _totpkit("serve", "--port", str(port), "--data-dir", str(tmp_path))
        assert result.returncode != 0
        line = _one_line(result.stderr)
        assert f"port {port}" in line
        assert "--port" in line
        assert "listening" not in result.stdout


class TestDataDirectoryIsNeverCreatedByMistake:
    @pytest.mark.parametrize(
        "argv",
        [
            ["create-user", "--email", "a@example.com", "--password", PASSWORD],
            ["audit"],
            ["keys", "list"],
            ["keys", "rotate"],
            ["keys", "reseal"],
            ["keys", "retire", "k_x"],
        ],
        ids=lambda argv: " ".join(argv[:2]),
    )
    def test_missing_data_dir_is_refused_and_named(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
    ) -> None:
        """A data directory that does not exist: exit 2, one line naming it and how to point elsewhere; not created."""
        monkeypatch.delenv("TOTPKIT_KEYS_FILE", raising=False)
        missing = tmp_path / "typo"
        assert main([*argv, "--data-dir", str(missing)]) == 2
        line = _one_line(capsys.readouterr().err)
        assert str(missing.resolve()) in line
        assert "--data-dir" in line
        assert "TOTPKIT_DATA_DIR" in line
        assert not missing.exists()

    def test_data_dir_from_the_environment_is_named_as_such(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TOTPKIT_DATA_DIR", str(tmp_path / "typo"))
        assert main(["create-user", "--email", "a@example.com", "--password", PASSWORD]) == 2
        assert "(from TOTPKIT_DATA_DIR)" in capsys.readouterr().err
        assert not (tmp_path / "typo").exists()


class TestCreateUserWithoutTerminal:
    def test_no_password_and_no_terminal_is_a_clear_error(self, tmp_path: Path) -> None:
        """No ``--password`` and stdin not a terminal: one line saying what to pass, exit 2, no user."""
        result = _totpkit("create-user", "--data-dir", str(tmp_path), "--email", "tty@example.com")
        assert result.returncode == 2
        line = _one_line(result.stderr)
        assert "--password-stdin" in line
        assert "EOFError" not in result.stderr
        assert result.stdout == ""

    def test_password_stdin_still_works_without_terminal(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [*_COMMAND, "create-user", "--data-dir", str(tmp_path), "--email", "pipe@example.com", "--password-stdin"],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            env=_without_keys_file(),
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("user_")


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*path, name))
                found.extend(_subcommands(sub, (*path, name)))
    return found


def _subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


class TestHelp:
    def test_every_subcommand_is_covered(self) -> None:
        commands = _subcommands(build_parser())
        assert {("serve",), ("create-user",), ("audit",), ("keys", "rotate"), ("keys", "generate")} <= set(commands)

    @pytest.mark.parametrize("path", _subcommands(build_parser()), ids=" ".join)
    def test_help_describes_the_command_every_option_and_its_default(
        self, path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``totpkit <command> --help``: a description, help for every option, and each meaningful default."""
        parser = _subparser(path)
        assert parser.description
        with pytest.raises(SystemExit) as exit_info:
            main([*path, "--help"])
        assert exit_info.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert " ".join(parser.description.split()) in text
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{' '.join(path)} {action.option_strings or action.dest} has no help"
            if action.default not in (None, False, argparse.SUPPRESS):
                assert f"default: {action.default}" in text or "default" in action.help

    def test_serve_help_shows_variables_and_defaults(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit):
            main(["serve", "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--port PORT TCP port to listen on (0: any free port). [env TOTPKIT_PORT; default: 8000]" in text
        assert "[env TOTPKIT_RATE_LIMIT_PER_IP; default: 300]" in text
