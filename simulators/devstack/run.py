"""`make run` and `make test`: the embedded servers, the simulators and the gateway, started and stopped together.

`run`: PostgreSQL and Valkey under ./var/dev (kept between runs), migrations, the demo registry and tariffs
(signed by a sample approver key), a development signing key, one PSP simulator per demo PSP, the gateway on
127.0.0.1:8080, and a first curl line.
`exec_with_stack`: fresh servers under ./var/test/run-<pid> (removed afterwards), DATABASE_URL and REDIS_URL
exported, then the given command.
Either uses DATABASE_URL / REDIS_URL as given instead of starting its own server.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from gateway.platform.config import PROJECT_ROOT, load_settings
from simulators.devstack.embedded import EmbeddedStack, free_port
from simulators.devstack.sample_approvals import SAMPLE_KEY_ID, sign_sample_approvals

VAR = PROJECT_ROOT / "var"
DEV_PG_PORT = 55432
DEV_REDIS_PORT = 56379
DEMO_TERMINAL = "10000001"
SMS_CENTRE_PORT = 9301
POOSHEH_INBOX_PORT = 9302


def _pishkhan(*args: str, env: dict, capture: bool = False) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout if capture else ""


def _stack(root: Path, persistent: bool, pg_port: int, redis_port: int) -> EmbeddedStack | None:
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return None
    stack = EmbeddedStack(root, pg_port, redis_port, persistent=persistent)
    stack.start()
    return stack


def _environment(stack: EmbeddedStack | None) -> dict:
    env = dict(os.environ)
    if stack is not None:
        env.setdefault("DATABASE_URL", stack.database_url)
        env.setdefault("REDIS_URL", stack.redis_url)
    return env


def _use_sample_approvals(env: dict, var_dir: Path) -> None:
    """Unless real approvals are configured, the demo ones, signed by a sample approver key (see sample_approvals)."""
    if "PISHKHAN_TARIFF_DIR" in env or "PISHKHAN_APPROVER_KEYS" in env:
        return
    tariffs, keys_file = sign_sample_approvals(load_settings().tariff_dir, var_dir / "sample-approver")
    env["PISHKHAN_TARIFF_DIR"], env["PISHKHAN_APPROVER_KEYS"] = str(tariffs), str(keys_file)
    print(f"demo tariff approvals signed by the SAMPLE approver key {SAMPLE_KEY_ID} (not the regulator's)", flush=True)


def prepare_database(env: dict, registry_path: Path, var_dir: Path) -> None:
    """Migrations, the registry and the tariff approvals; `env` learns where the approvals and their keys are (the
    demo ones are signed under `var_dir`)."""
    _use_sample_approvals(env, var_dir)
    _pishkhan("migrate", env=env)
    _pishkhan("registry", "load", str(registry_path), env=env)
    _pishkhan("tariffs", "load", env=env)


def _ensure_signing_key(env: dict) -> None:
    key_dir = Path(env.get("PISHKHAN_KEY_DIR", load_settings().key_dir))
    if not any(key_dir.glob("*.pem")):
        _pishkhan("keys", "signing-create", "--key-dir", str(key_dir), env=env)


def _demo_terminal_key(env: dict) -> str:
    saved = VAR / "dev" / "demo-terminal.key"
    if saved.exists():
        return saved.read_text().strip()
    output = _pishkhan(
        "keys", "create", "--role", "terminal", "--terminal-id", DEMO_TERMINAL, "--label", "demo", env=env, capture=True
    )
    token = output.strip().splitlines()[-1]
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(token + "\n")
    saved.chmod(0o600)
    return token


def _start_simulators(registry_path: Path, env: dict) -> list[subprocess.Popen]:
    """One PSP host simulator per registry PSP, speaking its protocol on its port (control API on the next)."""
    from simulators.psp.psp_host import simulator_options

    registry = tomllib.loads(registry_path.read_text(encoding="utf-8"))
    processes = []
    for psp_id, psp in registry["psps"].items():
        port = psp["endpoint"]["port"]
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    "sim",
                    "psp",
                    *simulator_options(psp_id, psp),
                    "--port",
                    str(port),
                    "--control-port",
                    str(port + 1),
                    "--pin-delay-ms",
                    "1500",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
    return processes


def _start_messaging_simulators(env: dict) -> list[subprocess.Popen]:
    """The SMS centre and the Iran Poosheh inbox on fixed ports, with the gateway's settings pointed at them."""
    env.setdefault("PISHKHAN_SMS_URL", f"http://127.0.0.1:{SMS_CENTRE_PORT}")
    env.setdefault("PISHKHAN_POOSHEH_URL", f"http://127.0.0.1:{POOSHEH_INBOX_PORT}")
    return [
        subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "sim", kind, "--port", str(port)], env=env, stdout=subprocess.DEVNULL
        )
        for kind, port in (("sms", SMS_CENTRE_PORT), ("poosheh", POOSHEH_INBOX_PORT))
    ]


def _first_charge_help(token: str) -> str:
    return f"""
Pishkhan Gateway is running on http://127.0.0.1:8080 (Ctrl-C stops everything).

A first charge on demo terminal {DEMO_TERMINAL} (office 11110001, operator op-11, service 1101):

curl -s http://127.0.0.1:8080/v1/charges \\
  -H 'Authorization: Bearer {token}' \\
  -H "Idempotency-Key: $(date +%s%N)" -H 'Content-Type: application/json' \\
  -d '{{"terminal_id": "{DEMO_TERMINAL}", "operator_id": "op-11", "service_code": "1101", "quantity": 1,
       "recipient": {{"name": "علی رضایی", "national_code": "0012345679", "mobile": "09121234567"}},
       "amount": 700000, "payment_method": "card"}}'

The quote for that service:
curl -s 'http://127.0.0.1:8080/v1/tariffs/quote?service_code=1101' -H 'Authorization: Bearer {token}'
The terminal simulator asks the cardholder for a PIN for 1.5 s before it answers.
The confirmation SMS on the handset: curl -s 'http://127.0.0.1:{SMS_CENTRE_PORT}/control/messages?recipient=09121234567'
The receipt in the Iran Poosheh inbox: curl -s http://127.0.0.1:{POOSHEH_INBOX_PORT}/control/inbox/iran0012345679
"""


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            process.kill()


def run() -> int:
    stack = _stack(VAR / "dev", persistent=True, pg_port=DEV_PG_PORT, redis_port=DEV_REDIS_PORT)
    processes: list[subprocess.Popen] = []
    try:
        env = _environment(stack)
        registry_path = load_settings().registry_path
        prepare_database(env, registry_path, VAR / "dev")
        _ensure_signing_key(env)
        token = _demo_terminal_key(env)
        processes = _start_simulators(registry_path, env) + _start_messaging_simulators(env)
        processes.append(subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env))
        print(_first_charge_help(token), flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("a process of the stack stopped; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(processes)
        if stack is not None:
            stack.stop()
    return 0


def exec_with_stack(command: list[str]) -> int:
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        sys.exit("usage: pishkhan dev exec -- COMMAND [ARGS...]")
    root = VAR / "test" / f"run-{os.getpid()}"
    stack = _stack(root, persistent=False, pg_port=free_port(), redis_port=free_port())
    try:
        return subprocess.call(command, env=_environment(stack))
    finally:
        if stack is not None:
            stack.stop()
            shutil.rmtree(root, ignore_errors=True)
