"""A copy of the app in a temporary directory: its files, environment, database and processes."""

import http.client
import io
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tarfile
import time
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = Path(sys.executable).parent / "gunicorn"
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# What the app does not need to run, and its local data: the copy's VAR_DIR and static files
# are its own.
SNAPSHOT_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "var", "staticfiles", "bench", "tests", "test-results", "__pycache__"
)


def copy_tree(snapshot, working_tree):
    """The committed tree (HEAD), or with working_tree the files as they are now."""
    if working_tree:
        shutil.copytree(REPO, snapshot, ignore=SNAPSHOT_IGNORE)
        return
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=REPO, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(snapshot, filter="data")


def app_environment(
    database,
    tmp,
    snapshot,
    postgres_database,
    settings_module="flashcards.settings",
    allowed_hosts="127.0.0.1",
):
    var_dir = tmp / "var"
    var_dir.mkdir()
    overridden = {"DEBUG", "LOCAL_SECRET_KEY", "REDIS_URL", "HTTPS", "CSRF_TRUSTED_ORIGINS"}
    env = {key: value for key, value in os.environ.items() if key not in overridden}
    if database == "postgres":
        url = f"postgres://postgres@127.0.0.1:5432/{postgres_database}"
    else:
        url = f"sqlite:///{var_dir / 'db.sqlite3'}"
    env.update(
        DATABASE_URL=url,
        VAR_DIR=str(var_dir),
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=allowed_hosts,
        DJANGO_SETTINGS_MODULE=settings_module,
        PYTHONPATH=str(snapshot),
    )
    return env


def postgres_server():
    import psycopg

    return psycopg.connect(POSTGRES_SERVER, autocommit=True)


def recreate_postgres_database(name, create=True):
    with postgres_server() as server:
        server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if create:
            server.execute(f"CREATE DATABASE {name}")


def database_version(database):
    if database == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with postgres_server() as server:
        return "PostgreSQL " + server.execute("SHOW server_version").fetchone()[0]


def manage(snapshot, env, *command):
    subprocess.run(
        [PYTHON, "manage.py", *command, "--verbosity", "0"], cwd=snapshot, env=env, check=True
    )


def child_step(script, snapshot, env, step, job, job_path):
    """Run a step of the script with Django set up on the app's settings; return its output."""
    job_path.write_text(json.dumps(job))
    subprocess.run(
        [PYTHON, str(Path(script).resolve()), "--step", step, "--job", str(job_path)],
        cwd=snapshot,
        env=env,
        check=True,
    )
    return json.loads(job_path.with_suffix(".out.json").read_text())


def run_child_step(function, job_path):
    """The child's side of child_step(): `function(job)` with Django set up, its output saved."""
    import django

    django.setup()
    output = function(json.loads(job_path.read_text()))
    job_path.with_suffix(".out.json").write_text(json.dumps(output, default=str))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(snapshot, env, workers, log_path, *options):
    """Start gunicorn on the copy at a free loopback port, wait until it answers; return the
    process and the port."""
    port = free_port()
    with log_path.open("ab") as log:
        server = subprocess.Popen(
            [GUNICORN, "flashcards.wsgi:application", "-b", f"127.0.0.1:{port}"]
            + ["-w", str(workers), *options],
            cwd=snapshot,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    for _ in range(150):
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            probe.request("GET", "/accounts/login/")
            probe.getresponse().read()
            return server, port
        except (OSError, http.client.HTTPException):
            if server.poll() is not None:
                break
            time.sleep(0.2)
        finally:
            probe.close()
    stop_server(server)
    raise RuntimeError(f"gunicorn did not start; see {log_path}:\n{log_path.read_text()[-3000:]}")


def stop_server(server):
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def git_commit():
    return subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()


def machine(server_version, commit):
    # Other work on the machine slows the server: the load average tells how much there was.
    load = ", ".join(f"{figure:.1f}" for figure in os.getloadavg())
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs (load average {load} at the end), "
        f"Python {platform.python_version()}, Django {version('django')}, "
        f"gunicorn {version('gunicorn')}, {server_version}, working tree of {commit}"
    )
