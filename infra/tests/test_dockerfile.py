"""The API image: what deploy/Dockerfile must say (it cannot be built here: no Docker engine)."""

import re

from hcl import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text()
    text = re.sub(r"\\\n", " ", text)
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def test_builder_uses_the_toolchain_and_the_ci_build_command():
    args = dict(rest.split("=", 1) for keyword, rest in _instructions() if keyword == "ARG" and "=" in rest)
    assert args["RUST_IMAGE"] == "rust:1.95-slim-bookworm"
    text = DOCKERFILE.read_text()
    assert "cargo build --release --locked -p dragoman" in text
    assert re.search(r"ENV SQLX_OFFLINE=true", text)
    assert "cargo chef cook" in text


def test_runtime_is_minimal_non_root_on_port_3000_with_binary_healthcheck():
    runtime = _stages()[-1]
    assert runtime[0] == ("FROM", "${RUNTIME_IMAGE} AS runtime")
    args = dict(rest.split("=", 1) for keyword, rest in _instructions() if keyword == "ARG" and "=" in rest)
    assert args["RUNTIME_IMAGE"] == "gcr.io/distroless/cc-debian12:nonroot"
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    # The API on 3000; /metrics on its own port (METRICS_PORT, 9100), for a scraper only.
    assert ("EXPOSE", "3000 9100") in runtime
    healthcheck = [rest for keyword, rest in runtime if keyword == "HEALTHCHECK"]
    assert healthcheck and '["/usr/local/bin/dragoman", "healthcheck"]' in healthcheck[0]
    entrypoint = [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    assert entrypoint == ['["/usr/local/bin/dragoman"]']


def test_dockerignore_keeps_sqlx_data_and_drops_target_and_git():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "target" in lines and ".git" in lines
    assert not any(line.strip().startswith(".sqlx") for line in lines)
