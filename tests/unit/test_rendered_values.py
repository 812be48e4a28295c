"""The contract by construction: every value the input rules accept is read back as itself.

Property-based (Hypothesis): values are generated, kept when the role's own
rule (``module_utils/inputs.py``, the same ``check_value`` the preflight runs)
accepts them, rendered with the filter the role's template line uses, and read
back by the real reader of that file: a ``redis-server`` started on the
rendered ``redis.conf`` lines, the app's own env reader (``app/config/env.py``
with python-dotenv), and gunicorn's own config loader. A value that passes the
check but is read back differently would be a hole in the contract.

PostgreSQL's reader (``postgres -C``) runs on the database hosts only; the
postgresql scenario feeds it the rendered drop-in.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from ansible_collections.ahsp.stack.plugins.filter.contract import app_env_reader
from ansible_collections.ahsp.stack.plugins.filter.formats import env_value, py_literal, redis_value
from ansible_collections.ahsp.stack.plugins.module_utils.inputs import check_value
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
# The rules exactly as the roles declare them (those used here hold no Jinja).
GUNICORN_RULES = yaml.safe_load(
    (ROOT / "roles" / "gunicorn_systemd" / "vars" / "main.yml").read_text(encoding="utf-8")
)["__gunicorn_systemd_input_rules"]
APP_READER = app_env_reader(str(ROOT / "app"))
# Few examples per property: each redis-server start costs tens of milliseconds.
FEW = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MANY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Any character a YAML inventory can carry, the troublesome ones made likely.
NASTY = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\"'\\$`#%=;: {}[]()*?!&|<>~\t\u00a0\u2028ü€")),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=40,
)


def accepted(name: str, value: object, rule: dict) -> bool:
    return check_value(name, value, rule, {}) == []


def _start_redis(conf: Path, sock: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        ["redis-server", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    # Ready when the socket accepts a connection: the file exists from bind(),
    # a moment before listen(), and a busy machine may show that moment.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.poll() is None:
        if sock.exists():
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(sock))
                    break
                except ConnectionRefusedError:
                    pass
        time.sleep(0.02)
    return server


def _redis_config_get(sock: Path, name: str) -> bytes:
    """CONFIG GET over the unix socket in RESP, the reply's value as bytes."""
    request = f"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n${len(name)}\r\n{name}\r\n".encode()
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(5)
        client.connect(str(sock))
        client.sendall(request)
        reply = b""
        while reply.count(b"\r\n") < 5:
            chunk = client.recv(65536)
            if not chunk:
                break
            reply += chunk
    # *2 $len name $len value
    header, rest = reply.split(b"\r\n", 1)
    assert header == b"*2", reply
    _, rest = rest.split(b"\r\n", 1)  # $len of the name
    _, rest = rest.split(b"\r\n", 1)  # the name
    length, rest = rest.split(b"\r\n", 1)
    return rest[: int(length[1:])]


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
@FEW
@given(password=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1))
def test_every_accepted_redis_password_is_the_one_redis_reads(tmp_path_factory, password):
    """redis-auth.conf.j2: ``requirepass {{ redis_admin_password | ahsp.stack.redis_value }}``."""
    assume(accepted("redis_admin_password", password, {"format": "secret", "min_length": 1}))
    base = tmp_path_factory.mktemp("redis")
    sock = base / "redis.sock"
    conf = base / "redis.conf"
    conf.write_text(
        f'port 0\nunixsocket {sock}\nunixsocketperm 700\nsave ""\nappendonly no\ndir {base}\n'
        f"requirepass {redis_value(password)}\nmasterauth {redis_value(password)}\n"
    )
    server = _start_redis(conf, sock)
    try:
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        assert _redis_config_get_authed(sock, password, "masterauth") == password.encode()
    finally:
        server.terminate()
        server.wait(timeout=10)


def _redis_config_get_authed(sock: Path, password: str, name: str) -> bytes:
    """AUTH with the password as given (it must be the one Redis read), then CONFIG GET."""
    auth = f"*2\r\n$4\r\nAUTH\r\n${len(password)}\r\n{password}\r\n".encode()
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(5)
        client.connect(str(sock))
        client.sendall(auth)
        assert client.recv(64) == b"+OK\r\n"
        request = f"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n${len(name)}\r\n{name}\r\n".encode()
        client.sendall(request)
        reply = b""
        deadline = time.monotonic() + 5
        while reply.count(b"\r\n") < 5 and time.monotonic() < deadline:
            reply += client.recv(65536)
    lines = reply.split(b"\r\n")
    assert lines[0] == b"*2", reply
    return lines[4]


@MANY
@given(value=NASTY)
def test_every_accepted_env_text_is_the_text_the_app_reads(tmp_path_factory, value):
    """app.env.j2: ``{{ name }}={{ value | ahsp.stack.env_value }}``, read by the app's reader."""
    assume(accepted("app_extra_env['TIME_ZONE']", value, {"format": "text"}))
    path = tmp_path_factory.mktemp("env") / "app.env"
    path.write_text(f"TIME_ZONE={env_value(value)}\n", encoding="utf-8")
    assert APP_READER.read_env_file(path) == {"TIME_ZONE": value}


@MANY
@given(value=st.one_of(st.integers(min_value=-(10**6), max_value=10**6), NASTY))
def test_an_operator_int_the_role_accepts_is_an_int_the_app_accepts(tmp_path_factory, value):
    """One reader: the role's check and the app's start-up agree on every value."""
    from ansible_collections.ahsp.stack.plugins.filter.contract import env_contract_problems

    origin = {"SECRET_KEY": "app_secret_key"}
    problems = env_contract_problems(
        str(ROOT / "app"), {"TREE_CACHE_SECONDS": value}, {"SECRET_KEY": "k" * 50}, origin
    )
    assume(not any("must be one line" in p for p in problems))
    path = tmp_path_factory.mktemp("env") / "app.env"
    path.write_text(f"TREE_CACHE_SECONDS={env_value(value)}\n", encoding="utf-8")
    environ = {"AHSP_ENV_FILES": str(path)}
    try:
        loaded = APP_READER.load_environment(ROOT / "app", environ)
    except APP_READER.ImproperlyConfigured:
        assert problems, f"the app refuses {value!r}, the role accepted it"
    else:
        assert not problems, f"the role refuses {value!r}, the app accepts it: {problems}"
        assert loaded.values["TREE_CACHE_SECONDS"] == int(str(value))


def _gunicorn_settings(path: Path) -> dict:
    """The settings gunicorn's own loader takes from a config file."""
    from gunicorn.app.base import Application

    class Probe(Application):
        def init(self, parser, opts, args):
            return None

        def load(self):
            return None

    probe = Probe.__new__(Probe)
    probe.usage, probe.prog, probe.callable = None, "probe", None
    probe.load_default_config()
    probe.load_config_from_file(str(path))
    return {name: setting.get() for name, setting in probe.cfg.settings.items()}


@MANY
@given(access=NASTY, proc=st.from_regex(r"\A[A-Za-z0-9_.-]{1,30}\Z"))
def test_every_accepted_gunicorn_value_is_the_one_gunicorn_loads(tmp_path_factory, access, proc):
    """gunicorn.conf.py.j2: ``access_log_format = {{ value | ahsp.stack.py_literal }}``."""
    name = "gunicorn_systemd_access_log_format"
    assume(accepted(name, access, GUNICORN_RULES[name]))
    name = "gunicorn_systemd_proc_name"
    assume(accepted(name, proc, GUNICORN_RULES[name]))
    path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.conf.py"
    path.write_text(
        f"access_log_format = {py_literal(access)}\nproc_name = {py_literal(proc)}\n",
        encoding="utf-8",
    )
    loaded = _gunicorn_settings(path)
    assert loaded["access_log_format"] == access
    assert loaded["proc_name"] == proc


@MANY
@given(
    networks=st.lists(
        st.one_of(st.ip_addresses().map(str), st.from_regex(r"\A[0-9a-fA-F:.%/a-z ]{1,40}\Z")),
        max_size=4,
    )
)
def test_every_accepted_forwarded_allow_ips_is_what_gunicorn_trusts(tmp_path_factory, networks):
    """``forwarded_allow_ips = {{ list | join(',') | ahsp.stack.py_literal }}``."""
    name = "gunicorn_systemd_forwarded_allow_ips"
    assume(accepted(name, networks, GUNICORN_RULES[name]))
    path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.conf.py"
    path.write_text(f"forwarded_allow_ips = {py_literal(','.join(networks))}\n", encoding="utf-8")
    assert _gunicorn_settings(path)["forwarded_allow_ips"] == networks
