"""``python -m stack``: the local stack (``make up`` / ``down`` / ``logs`` without Docker).

Commands:
  up [--detach]        generate .env on first run, start backend, runner and gateway, print
                       the URLs and the API key; foreground until Ctrl-C unless --detach
  down                 stop a running stack (the one recorded under --state-dir)
  env                  create .env (fresh secrets) or add missing secrets, then exit
  status               print the state file
  logs [--follow]      the last lines of every component's log
  backend stop|start   stop/start only the backend (the integration suite's fault hook)
  banner [--docker]    print the gateway URL, API keys, manifest and OpenAPI URLs (the Docker
                       stack's `make up` ends with it)
  test [PYTEST ARGS]   start a detached stack (free ports, state in var/e2e/run-<pid>, kept
                       on failure), run tests/integration against it, stop it
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from stack import banner
from stack.envfile import ensure_env_file, merged_environment, read_env_file
from stack.probes import alive, free_port, port_in_use
from stack.supervisor import (
    Settings,
    StackError,
    Supervisor,
    build_components,
    read_state,
    tail,
)

logger = logging.getLogger("stack")

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 180.0
TEST_GPT_REDIRECT = "http://127.0.0.1:47124/gpt-actions/callback"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="logs, state file and runner socket (default: $STACK_DIR or var; var/e2e for test)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="secrets file (default: .env, or <state-dir>/.env for `test`)",
    )
    parser.add_argument(
        "--gateway-port",
        type=int,
        default=None,
        help="default $GATEWAY_PORT or 9080 (a free port for `test`)",
    )
    parser.add_argument(
        "--backend-port",
        type=int,
        default=None,
        help="default $BACKEND_PORT or 8000 (a free port for `test`)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the stack")
    up.add_argument("--detach", action="store_true", help="return once the stack is ready")
    # Set by --detach on the background process it starts: the banner then says `make down`.
    up.add_argument("--detached-child", action="store_true", help=argparse.SUPPRESS)
    sub.add_parser("down", help="stop the stack")
    sub.add_parser("env", help="create .env with fresh secrets (or add missing ones) and exit")
    sub.add_parser("status", help="print the stack's state")
    logs = sub.add_parser("logs", help="show the component logs")
    logs.add_argument("--follow", "-f", action="store_true")
    backend = sub.add_parser("backend", help="stop or start the backend only")
    backend.add_argument("action", choices=["stop", "start"])
    banner = sub.add_parser("banner", help="print the URLs and API keys of the running stack")
    banner.add_argument("--docker", action="store_true", help="for the Docker stack (make up)")
    test = sub.add_parser("test", help="run tests/integration against a fresh local stack")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    return parser


def _settings(args: argparse.Namespace, *, testing: bool) -> Settings:
    env = os.environ
    state_dir = args.state_dir or Path(env.get("STACK_DIR", "var/e2e" if testing else "var"))
    if not state_dir.is_absolute():
        state_dir = ROOT / state_dir
    env_file = args.env_file or (
        state_dir / ".env" if testing else Path(env.get("STACK_ENV_FILE") or ".env")
    )
    if not env_file.is_absolute():
        env_file = ROOT / env_file
    # The user's stack: ports from the shell, else .env, else 9080/8000. The test stack always
    # uses its own ports (flags only) so it never collides with a running `make up`.
    lookup = {} if testing else {**read_env_file(env_file), **env}
    gateway_port = args.gateway_port or int(
        lookup.get("GATEWAY_PORT", "19080" if testing else "9080")
    )
    backend_port = args.backend_port or int(
        lookup.get("BACKEND_PORT", "18000" if testing else "8000")
    )
    return Settings(
        root=ROOT,
        state_dir=state_dir,
        env_file=env_file,
        gateway_port=gateway_port,
        backend_port=backend_port,
        private_database=testing,
    )


def _environment(settings: Settings) -> dict[str, str]:
    return merged_environment(ensure_env_file(settings.env_file), os.environ)


def _up(settings: Settings, *, detached: bool = False) -> int:
    existing = read_state(settings)
    if existing and alive(int(existing["pid"])):
        print(
            f"a stack is already running (pid {existing['pid']}); `make down` first",
            file=sys.stderr,
        )
        return 1
    busy = [port for port in (settings.backend_port, settings.gateway_port) if port_in_use(port)]
    if busy:
        # Checked up front: a readiness probe would otherwise be answered by whatever holds it.
        logger.error(
            "port(s) %s already in use on %s: stop that process or choose other ports "
            "(GATEWAY_PORT / BACKEND_PORT)",
            busy,
            settings.host,
        )
        return 1
    env = _environment(settings)
    supervisor = Supervisor(settings, build_components(settings, env))
    try:
        supervisor.start()
    except StackError as exc:
        logger.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    print(banner.render(settings, env, docker=False, detached=detached), flush=True)
    return supervisor.serve()


def _detach(args: argparse.Namespace, settings: Settings) -> int:
    """Start ``up`` in the background and wait until it reports ready."""
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "stack",
        "--state-dir",
        str(settings.state_dir),
        "--env-file",
        str(settings.env_file),
        "--gateway-port",
        str(settings.gateway_port),
        "--backend-port",
        str(settings.backend_port),
    ]
    if settings.private_database:
        argv.append("--private-database")
    argv += ["up", "--detached-child"]
    log_path = settings.log_dir / "stack.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            logger.error("the stack failed to start; %s:\n%s", log_path, tail(log_path, 40))
            return 1
        state = read_state(settings)
        if state and state.get("ready") and state.get("pid") == process.pid:
            # Rendered here rather than copied from the log: its length varies (warnings).
            print(banner.render(settings, _environment(settings), docker=False, detached=True))
            return 0
        time.sleep(0.2)
    logger.error("the stack was not ready after %.0f s; see %s", READY_TIMEOUT, log_path)
    os.kill(process.pid, signal.SIGTERM)
    return 1


def _down(settings: Settings) -> int:
    state = read_state(settings)
    if state is None:
        print("no local stack is running (no state file)")
        return 0
    pid = int(state["pid"])
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 40
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    # A supervisor killed hard leaves its children: stop them by their recorded pids.
    for name, child in state.get("components", {}).items():
        if child and alive(int(child)):
            logger.warning("stopping orphaned %s (pid %s)", name, child)
            os.kill(int(child), signal.SIGTERM)
    settings.state_file.unlink(missing_ok=True)
    print("local stack stopped")
    return 0


def _backend(settings: Settings, action: str) -> int:
    state = read_state(settings)
    if state is None or not alive(int(state["pid"])):
        print("no local stack is running", file=sys.stderr)
        return 1
    os.kill(int(state["pid"]), signal.SIGUSR1 if action == "stop" else signal.SIGUSR2)
    wanted = "stopped" if action == "stop" else "running"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = read_state(settings)
        if state and state.get("backend") == wanted:
            return 0
        time.sleep(0.1)
    print(f"backend did not reach state {wanted!r}", file=sys.stderr)
    return 1


def _logs(settings: Settings, follow: bool) -> int:
    names = ("backend", "runner", "gateway")
    for name in names:
        print(f"==> {settings.log_dir / (name + '.log')} <==")
        print(tail(settings.log_dir / f"{name}.log"))
    if not follow:
        return 0
    offsets = {n: _size(settings.log_dir / f"{n}.log") for n in names}
    try:
        while True:
            for name in names:
                path = settings.log_dir / f"{name}.log"
                size = _size(path)
                if size > offsets[name]:
                    with path.open("rb") as handle:
                        handle.seek(offsets[name])
                        for line in (
                            handle.read(size - offsets[name])
                            .decode("utf-8", "replace")
                            .splitlines()
                        ):
                            print(f"{name:8} | {line}", flush=True)
                offsets[name] = size
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _test(args: argparse.Namespace, settings: Settings) -> int:
    """Fresh stack on the test ports, the black-box suite against it, then down."""
    # The test stack's pre-registered GPT Actions client answers to this loopback callback, so
    # the suite can play the GPT editor's flow (tests/integration/test_g_oauth.py).
    os.environ.setdefault("CONFERENCE_OAUTH_GPT_ACTIONS_REDIRECT_URIS", TEST_GPT_REDIRECT)
    env = _environment(settings)
    code = _detach(args, settings)
    if code != 0:
        return code
    control = shlex.join(
        [sys.executable, "-m", "stack", "--state-dir", str(settings.state_dir), "backend"]
    )
    suite_env = {
        **os.environ,
        "GATEWAY_URL": f"http://{settings.host}:{settings.gateway_port}",
        "CHATGPT_API_KEY": env["CHATGPT_API_KEY"],
        "READONLY_API_KEY": env["READONLY_API_KEY"],
        "BACKEND_URL": settings.backend_url,
        "STACK_BACKEND_CONTROL": control,
        "GPT_ACTIONS_CLIENT_SECRET": env["CONFERENCE_OAUTH_GPT_ACTIONS_SECRET"],
        "GPT_ACTIONS_REDIRECT_URI": env["CONFERENCE_OAUTH_GPT_ACTIONS_REDIRECT_URIS"].split(",")[0],
    }
    pytest_args = [a for a in args.pytest_args if a != "--"]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "e2e", "tests/integration", *pytest_args],
            cwd=ROOT,
            env=suite_env,
            check=False,
        )
    finally:
        _down(settings)
    if result.returncode == 0 and settings.state_dir.name.startswith("run-"):
        shutil.rmtree(settings.state_dir, ignore_errors=True)  # logs are kept on failure
    return result.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    # Internal flag used by --detach for the `test` stack; not part of the public CLI.
    parser.add_argument("--private-database", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness polls are noise
    testing = args.command == "test" or args.private_database
    if args.command == "test":
        # Concurrent `make test` runs (CI jobs, several checkouts) each get their own free ports
        # and state directory, next to the shared secrets file var/e2e/.env.
        args.gateway_port = args.gateway_port or free_port()
        args.backend_port = args.backend_port or free_port()
        args.env_file = args.env_file or ROOT / "var" / "e2e" / ".env"
        args.state_dir = args.state_dir or ROOT / "var" / "e2e" / f"run-{os.getpid()}"
    settings = _settings(args, testing=testing)
    if args.command == "up":
        if args.detach:
            return _detach(args, settings)
        return _up(settings, detached=args.detached_child)
    if args.command == "down":
        return _down(settings)
    if args.command == "env":
        ensure_env_file(settings.env_file)
        print(f"{settings.env_file} holds the stack's secrets (mode 0600)")
        return 0
    if args.command == "banner":
        print(banner.render(settings, _environment(settings), docker=args.docker, detached=True))
        return 0
    if args.command == "status":
        state = read_state(settings)
        print(json.dumps(state, indent=2) if state else "no local stack is running")
        return 0 if state else 1
    if args.command == "logs":
        return _logs(settings, args.follow)
    if args.command == "backend":
        return _backend(settings, args.action)
    return _test(args, settings)


if __name__ == "__main__":
    sys.exit(main())
