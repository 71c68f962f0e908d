"""JupyterHub for a class on one machine: every learner logs in and gets a JupyterLab of their own.

Start it from the course folder, with the course's environment (``make setup``):

    export COURSE_HUB_PASSWORD='a-long-class-password' COURSE_HUB_USERS=ada,alan
    .venv/bin/jupyterhub -f tools/hub/jupyterhub_config.py

Each learner logs in at http://127.0.0.1:8000 with their name (one of ``COURSE_HUB_USERS``) and the shared class
password, and gets a server of their own, started as a local process with its own home folder
(``COURSE_HUB_HOMES/<name>``), into which the course's chapters, exercises and solutions are copied on the first
start (never over a learner's files). The course's outputs go to ``<home>/outputs`` (``COURSE_OUTPUT_DIR``).
tests/test_hub.py starts exactly this configuration on free loopback ports and checks it.

This is a workshop set-up, not a hardened one: every server runs as the user who started the hub, so learners
are kept apart by JupyterHub's authentication, not by the operating system. For a real deployment on a shared
machine, use ``LocalProcessSpawner`` with system users (or DockerSpawner with an image built from environment.yml)
and TLS in front; the settings below show where. Environment variables (all optional but the password):

    COURSE_HUB_PASSWORD        the shared class password (at least 8 characters)
    COURSE_HUB_USERS           comma-separated user names allowed to log in (empty: any name)
    COURSE_HUB_IP, COURSE_HUB_PORT             where learners connect (default 127.0.0.1:8000)
    COURSE_HUB_PROXY_API_PORT, COURSE_HUB_API_PORT   internal ports (default 8001, 8081; loopback only)
    COURSE_HUB_STATE           the hub's database, cookie secret and proxy pid (default outputs/hub)
    COURSE_HUB_HOMES           where learners' home folders are made (default <state>/homes)
"""

import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (defined by JupyterHub when it loads this file)

COURSE = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the environment JupyterHub runs in: its proxy and single-user server
COPIED = ("chapters", "exercises", "solutions")  # what each learner gets in their home folder
STATE = Path(os.environ.get("COURSE_HUB_STATE", COURSE / "outputs" / "hub")).resolve()
HOMES = Path(os.environ.get("COURSE_HUB_HOMES", STATE / "homes")).resolve()
STATE.mkdir(parents=True, exist_ok=True)

# Where learners connect; the proxy's API and the hub itself listen on loopback only.
c.JupyterHub.ip = os.environ.get("COURSE_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("COURSE_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("COURSE_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('COURSE_HUB_PROXY_API_PORT', '8001')}"
# The proxy is PyPI's pure-Python configurable-http-proxy (installed by `make setup`): no Node.js needed.
c.ConfigurableHTTPProxy.command = [str(BIN / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the learners' servers

# One shared class password; only the listed names may log in (a real class: an OAuth or LTI authenticator).
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ.get("COURSE_HUB_PASSWORD", "")
users = {name.strip() for name in os.environ.get("COURSE_HUB_USERS", "").split(",") if name.strip()}
if users:
    c.Authenticator.allowed_users = users
else:
    c.Authenticator.allow_all = True

# Each learner's server: a local process in a home folder of its own (a real class: LocalProcessSpawner with
# system users, or DockerSpawner).
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
# The course's own environment: `make setup` has disabled JupyterLab's news plugin there, so no learner is asked
# "Would you like to get notified about official Jupyter news?" (tests/test_hub.py checks each server's page).
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab/tree/chapters/00_setup_check.ipynb"
c.Spawner.start_timeout = 120  # a busy 2-core machine starting several servers at once
c.Spawner.http_timeout = 120
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]  # containers and CI run as root; Jupyter refuses to, unless told


def give_the_learner_a_course(spawner) -> None:
    """Copy the course's notebooks into the learner's home (first start only) and point outputs there."""
    home = Path(spawner.home_dir)
    home.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", ".backup", "__pycache__")
    for folder in COPIED:
        if not (home / folder).exists():  # never over a learner's own files
            shutil.copytree(COURSE / folder, home / folder, ignore=ignore)
    spawner.environment["COURSE_OUTPUT_DIR"] = str(home / "outputs")


c.Spawner.pre_spawn_hook = give_the_learner_a_course
