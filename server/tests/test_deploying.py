"""The deployment example (``compose.yaml``, ``Dockerfile``, ``docs/DEPLOYING.md``) matches the real CLI.

There is no container engine here, so the file is checked like ``docker compose config`` would read it
(YAML, anchors merged) and every command is parsed by ``totpkit``'s own argument parser: a renamed or
removed flag fails this test instead of the first real deployment.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from totpkit_server.cli import parse_command_line
from totpkit_server.cli_settings import config_settings
from totpkit_server.config import TOTPKitConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def parse(command: list[str]) -> argparse.Namespace:
    """``totpkit <command>`` as the CLI parses it (argparse exits on an unknown flag: a failure here)."""
    try:
        return parse_command_line(command, {})
    except SystemExit as exc:  # pragma: no cover - the message is on stderr
        pytest.fail(f"totpkit rejects the compose command {command}: exit {exc.code}")


def instances(compose: dict[str, Any]) -> dict[str, argparse.Namespace]:
    return {
        name: parse(service["command"])
        for name, service in compose["services"].items()
        if service.get("command", [None])[0] == "serve"
    }


def test_postgres_and_two_instances_on_one_database(compose: dict[str, Any]) -> None:
    """Two ``serve`` instances in production mode, on the one PostgreSQL service, with one keys file,
    each on its own host port bound to 127.0.0.1, several workers each."""
    services = compose["services"]
    served = instances(compose)
    assert len(served) == 2
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:")
    env = postgres["environment"]
    expected_url = f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@postgres:5432/{env['POSTGRES_DB']}"
    for name, args in served.items():
        assert args.production, name
        assert args.database_url == expected_url, name
        assert TOTPKitConfig(database_url=args.database_url).uses_postgres
        assert args.workers >= 2, name
        assert str(args.keys_file) == "/run/secrets/totpkit/keys.json", name
        production = TOTPKitConfig(**config_settings(args))  # what production refuses to start without
        assert production.allowed_origins, name
        assert production.issuer_url is not None, name
        mount = [volume for volume in services[name]["volumes"] if volume.split(":")[1] == "/run/secrets/totpkit"]
        assert mount, f"{name} does not mount the keys directory"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    ports = [services[name]["ports"][0] for name in served]
    assert all(port.startswith("127.0.0.1:") for port in ports)
    assert len(set(ports)) == len(ports)


def test_migrations_run_once_before_the_instances(compose: dict[str, Any]) -> None:
    migrate = parse(compose["services"]["migrate"]["command"])
    assert migrate.command == "migrate"
    assert {args.database_url for args in instances(compose).values()} == {migrate.database_url}


def test_the_image_runs_the_totpkit_command_with_the_postgres_extra() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    assert 'ENTRYPOINT ["totpkit"]' in dockerfile
    assert ".[server,postgres]" in dockerfile


def test_the_operations_doc_describes_the_example(compose: dict[str, Any]) -> None:
    doc = (ROOT / "docs" / "DEPLOYING.md").read_text("utf-8")
    for name in compose["services"]:
        assert f"`{name}`" in doc, name
    for topic in ("load balancer", "rolling deploy", "Backups", "Key rotation", "in memory", "--workers"):
        assert topic in doc, topic
