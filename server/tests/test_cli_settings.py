"""Every operator setting as a ``totpkit`` flag and a ``TOTPKIT_*`` variable, from one table.

In-process for the table, the README and precedence; real ``totpkit`` processes for what an
operator sees: the settings reaching a running server, and one-line errors without a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from totpkit_server import TOTPKitConfig
from totpkit_server.cli import parse_command_line
from totpkit_server.cli_settings import NOT_SETTINGS, SETTINGS, Setting, SettingError, config_settings, markdown_table
from totpkit_server.testing import serve

README = Path(__file__).resolve().parents[2] / "README.md"
TABLE = re.compile(r"<!-- settings-table:[^\n]*-->\n(.*?)\n<!-- end of settings-table -->", re.DOTALL)

# Two valid values per setting, as text: what a flag says and what a variable says.
SAMPLES: dict[str, tuple[str, str]] = {
    "host": ("127.0.0.2", "127.0.0.3"),
    "port": ("8001", "8002"),
    "data_dir": ("/srv/a", "/srv/b"),
    "database_url": ("sqlite:///srv/a.db", "sqlite:///srv/b.db"),
    "keys_file": ("/etc/a.json", "/etc/b.json"),
    "production": ("yes", "no"),
    "log_format": ("json", "text"),
    "log_level": ("debug", "warning"),
    "allowed_origins": ("https://a.example", "https://b.example,http://localhost:3000"),
    "issuer_url": ("https://a.example/auth", "https://b.example"),
    "secure_cookies": ("on", "off"),
    "path_prefix": ("/a", "/b"),
    "issuer_name": ("Flag App", "Env App"),
    "openapi_path": ("/a.json", "off"),
    "max_body_bytes": ("1000", "2000"),
    "session_token_lifetime": ("61", "62"),
    "session_lifetime": ("3601", "3602"),
    "sign_in_lifetime": ("601", "602"),
    "totp_window": ("0", "2"),
    "backup_codes_enabled": ("false", "true"),
    "lockout_max_attempts": ("3", "0"),
    "lockout_duration": ("60", "120"),
    "reverification_max_age": ("10", "20"),
    "rate_limit_window": ("10", "20"),
    "rate_limit_per_client": ("5", "0"),
    "rate_limit_per_ip": ("50", "60"),
    "trusted_proxy_header": ("x-real-ip", "x-forwarded-for"),
    "trusted_proxy_hops": ("2", "3"),
    "request_body_timeout": ("2.5", "30"),
    "clerk_js_dir": ("/opt/clerk-js/dist", "off"),
    "docs_path": ("/api-docs", "off"),
    "database_pool_min_size": ("2", "3"),
    "database_pool_max_size": ("20", "30"),
    "workers": ("2", "4"),
    "rate_limit_creations_per_ip": ("7", "0"),
    "hashing_threads": ("3", "auto"),
    "hashing_queue": ("0", "64"),
    "idle_lifetime": ("7200", "90000"),
    "sweep_interval": ("60", "0.5"),
}


def flag_argv(setting: Setting, text: str) -> list[str]:
    """How ``text`` is given on the command line: a switch as ``--x`` / ``--no-x``, others as ``--x text``."""
    if setting.is_switch:
        return [setting.flag if setting.parse(text) else f"--no-{setting.flag[2:]}"]
    return [setting.flag, text]


class TestTable:
    def test_every_config_field_is_a_setting_or_excluded_with_a_reason(self) -> None:
        """A new ``TOTPKitConfig`` field fails this test until it is a setting or listed in NOT_SETTINGS."""
        fields = {f.name for f in dataclasses.fields(TOTPKitConfig)}
        settings = {s.name for s in SETTINGS if s.config}
        assert settings <= fields
        assert set(NOT_SETTINGS) <= fields
        assert settings.isdisjoint(NOT_SETTINGS)
        assert fields == settings | set(NOT_SETTINGS)

    def test_names_are_unique_and_every_setting_is_explained(self) -> None:
        """Each flag and variable is unique; each setting has help text (config fields: their docstring)."""
        assert len({s.flag for s in SETTINGS}) == len({s.env for s in SETTINGS}) == len(SETTINGS)
        for setting in SETTINGS:
            assert setting.env == "TOTPKIT_" + setting.name.upper()
            assert len(setting.description()) > 10, setting.name

    def test_help_is_the_config_docstring(self) -> None:
        """The help of a config field is its docstring's first paragraph, so the two cannot drift."""
        lifetime = next(s for s in SETTINGS if s.name == "lockout_duration")
        assert lifetime.description() == "Seconds a lockout lasts (Clerk's default: one hour)."

    def test_readme_table_is_generated_from_the_settings(self) -> None:
        """The README's table equals ``python -m totpkit_server.cli_settings`` (regenerate it if not)."""
        match = TABLE.search(README.read_text("utf-8"))
        assert match is not None, "README.md has no settings table"
        assert match.group(1) == markdown_table(), "regenerate with: python -m totpkit_server.cli_settings"
        for setting in SETTINGS:
            assert f"`{setting.env}`" in match.group(1)

    def test_readme_has_the_production_checklist(self) -> None:
        """The checklist names the settings a production server must look at."""
        readme = README.read_text("utf-8")
        checklist = readme.split("## Production checklist", 1)[1].split("\n## ", 1)[0]
        for flag in (
            "--allowed-origins",
            "--issuer-url",
            "--secure-cookies",
            "--keys-file",
            "--reverification-max-age",
        ):
            assert flag in checklist


class TestPrecedence:
    def test_every_setting_covered_by_samples(self) -> None:
        assert set(SAMPLES) == {s.name for s in SETTINGS}

    @pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
    def test_flag_wins_over_variable_wins_over_default(self, setting: Setting) -> None:
        """For every setting: the flag's value if given, else the variable's, else the default."""
        flag_text, env_text = SAMPLES[setting.name]
        env = {setting.env: env_text}
        by_flag = parse_command_line(["serve", *flag_argv(setting, flag_text)], env)
        assert getattr(by_flag, setting.name) == setting.parse(flag_text)
        by_env = parse_command_line(["serve"], env)
        assert getattr(by_env, setting.name) == setting.parse(env_text)
        assert setting.parse(flag_text) != setting.parse(env_text)
        by_default = parse_command_line(["serve"], {})
        assert setting.name not in by_default.given_settings
        if setting.config:
            assert setting.name not in config_settings(by_default)
            assert config_settings(by_flag)[setting.name] == setting.parse(flag_text)
            assert config_settings(by_env)[setting.name] == setting.parse(env_text)

    def test_config_settings_build_a_config(self) -> None:
        """The settings of a command line become ``TOTPKitConfig`` fields, unset ones keep their default."""
        args = parse_command_line(
            ["serve", "--allowed-origins", "https://a.example,https://b.example", "--secure-cookies"],
            {"TOTPKIT_LOCKOUT_MAX_ATTEMPTS": "4", "TOTPKIT_DATABASE_URL": "sqlite:///tmp/x.db"},
        )
        config = TOTPKitConfig(**config_settings(args))
        assert config.allowed_origins == ("https://a.example", "https://b.example")
        assert config.secure_cookies is True
        assert config.lockout_max_attempts == 4
        assert config.database_url == "sqlite:///tmp/x.db"
        assert config.lockout_duration == 3600

    def test_a_switch_flag_turns_off_what_the_variable_turns_on(self) -> None:
        args = parse_command_line(["serve", "--no-production"], {"TOTPKIT_PRODUCTION": "1"})
        assert args.production is False

    def test_shared_settings_reach_the_data_directory_commands(self) -> None:
        """``create-user``, ``audit`` and ``keys`` read the data directory and keys file from the environment."""
        env = {"TOTPKIT_DATA_DIR": "/srv/totpkit", "TOTPKIT_KEYS_FILE": "/etc/k.json", "TOTPKIT_PORT": "x"}
        for argv in (["create-user", "--email", "a@example.com"], ["audit"], ["keys", "list"], ["migrate"]):
            args = parse_command_line(argv, env)
            assert args.data_dir == Path("/srv/totpkit")
            assert args.keys_file == Path("/etc/k.json")
            assert not hasattr(args, "port")  # serve-only settings are not read (nor checked) here

    def test_invalid_variable_names_the_variable(self) -> None:
        with pytest.raises(SettingError, match=r"^TOTPKIT_RATE_LIMIT_PER_IP: invalid value '-1': must be at least 0$"):
            parse_command_line(["serve"], {"TOTPKIT_RATE_LIMIT_PER_IP": "-1"})


def run_totpkit(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "totpkit_server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


class TestInvalidValuesInAProcess:
    @pytest.mark.parametrize(
        ("argv", "env", "named"),
        [
            (["--port", "eighty"], {}, "--port"),
            (["--allowed-origins", "https://a.example/path"], {}, "--allowed-origins"),
            (["--secure-cookies=maybe"], {}, "--secure-cookies"),
            ([], {"TOTPKIT_LOCKOUT_DURATION": "0"}, "TOTPKIT_LOCKOUT_DURATION"),
            ([], {"TOTPKIT_LOG_FORMAT": "xml"}, "TOTPKIT_LOG_FORMAT"),
            ([], {"TOTPKIT_SECURE_COOKIES": "maybe"}, "TOTPKIT_SECURE_COOKIES"),
            (["--openapi-path", "openapi.json"], {}, "--openapi-path"),  # refused by TOTPKitConfig itself
            (["--database-url", "/var/lib/totpkit.db"], {}, "--database-url"),
        ],
    )
    def test_one_line_naming_the_flag_or_variable(
        self, tmp_path: Path, argv: list[str], env: dict[str, str], named: str
    ) -> None:
        """An invalid setting stops ``serve`` before it starts: exit 2, one line naming its source."""
        result = run_totpkit("serve", "--data-dir", str(tmp_path), *argv, env=env)
        assert_one_line_error(result, named)
        assert not (tmp_path / "totpkit.db").exists()


class TestSettingsReachTheServer:
    def test_environment_and_flags_configure_a_real_server(self, tmp_path: Path) -> None:
        """Variables configure ``totpkit serve``; a flag overrides its variable."""
        database = tmp_path / "elsewhere" / "auth.db"
        env = {
            **os.environ,
            "TOTPKIT_DATABASE_URL": f"sqlite:///{database}",
            "TOTPKIT_ISSUER_NAME": "Env Corp",
            "TOTPKIT_LOCKOUT_MAX_ATTEMPTS": "7",
            "TOTPKIT_LOCKOUT_DURATION": "600",
        }
        with serve(tmp_path / "data", args=["--lockout-max-attempts", "4"], env=env, ready_timeout=60) as server:
            environment = httpx.get(f"{server.url}/v1/environment", timeout=10).json()
        settings = environment["user_settings"]
        assert environment["display_config"]["application_name"] == "Env Corp"
        assert settings["attack_protection"]["user_lockout"]["max_attempts"] == 4
        assert settings["attack_protection"]["user_lockout"]["duration_in_minutes"] == 10
        assert database.is_file()
        assert not (tmp_path / "data" / "totpkit.db").exists()


class TestKeysFileSetting:
    @pytest.mark.parametrize(
        "command", [["serve"], ["create-user", "--email", "k@example.com", "--password", "x" * 12]]
    )
    def test_unreadable_keys_file_is_one_line_naming_the_variable(self, tmp_path: Path, command: list[str]) -> None:
        """A keys file that does not exist, named by ``TOTPKIT_KEYS_FILE``: one line, exit 2, nothing created."""
        missing = tmp_path / "nope.json"
        result = run_totpkit(*command, "--data-dir", str(tmp_path), env={"TOTPKIT_KEYS_FILE": str(missing)})
        assert_one_line_error(result, str(missing), "TOTPKIT_KEYS_FILE")
        assert not (tmp_path / "totpkit.db").exists()
