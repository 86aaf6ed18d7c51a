"""JupyterHub for the course kit: every student gets a JupyterLab of their own, opened on
the course's landing page, with the course in their home folder.

Why a hub: `bash scripts/lab.sh` serves one person. A class needs one server (and one
kernel) per student, started on log-in, and homework that travels between students and
the teacher. This file is that hub for a teacher's trial on one machine
(`bash scripts/hub.sh`, which also the tests start), and the starting point of a
department's deployment: copy it, and change what the comments marked DEPARTMENT name.

What it sets up:

* log-in with a shared password (JupyterHub's SharedPasswordAuthenticator): any name with
  the students' password, and one teacher, an admin, with a password of their own;
* one single-user server per user, as a local process of the hub's user, each in a home
  folder of its own under the state folder (SimpleLocalProcessSpawner: no system users,
  no isolation between users; for a trial only);
* on every start, the course (the landing page, notebooks/, exercises/; for the teacher
  also solutions/ and an nbgrader course folder with every homework) is copied into the
  user's home where a file is missing: nothing a user has is ever overwritten, so a
  deleted notebook comes back fresh at the next start;
* the kit's Lab configuration: a student's Lab without nbgrader's teacher tools, the
  teacher's with them (lecturekit.course.lab.config_folders), one nbgrader exchange
  folder for everyone, and one model (LECTUREKIT_MODEL) for every kernel.

Settings come from environment variables (defaults in brackets):

  LECTUREKIT_HUB_PORT              the port students open [8000]
  LECTUREKIT_HUB_IP                the address it listens on [127.0.0.1; 0.0.0.0: all]
  LECTUREKIT_HUB_API_PORT          the hub's internal API [port + 1]
  LECTUREKIT_HUB_PROXY_API_PORT    the proxy's internal API [port + 2]
  LECTUREKIT_HUB_STATE             homes, database, secrets [<checkout>/.hub/state]
  LECTUREKIT_HUB_EXCHANGE          nbgrader's exchange folder [<state>/exchange]
  LECTUREKIT_HUB_COURSE            where the course is copied from [this checkout]
  LECTUREKIT_HUB_PASSWORD          the students' password (required, 8 characters or more)
  LECTUREKIT_HUB_TEACHER           the teacher's user name [teacher]
  LECTUREKIT_HUB_TEACHER_PASSWORD  the teacher's password (required, 32 characters or more)
  LECTUREKIT_MODEL                 the network of every kernel [efficientnet-lite0]
  LECTUREKIT_PROGRESS              passed through to every kernel when set
"""

import os
import shutil
import socket
import sys
from pathlib import Path

from lecturekit.course.lab import LANDING_PAGE, lab_environment, landing_url_path
from lecturekit.models import MODEL_NAMES

c = get_config()  # noqa: F821  (JupyterHub provides get_config in its config files)

CHECKOUT = Path(__file__).resolve().parents[1]
COURSE_ID = "cnnvis"  # the course_id of docs/teaching.md's nbgrader_config.py
STUDENT_ITEMS = (LANDING_PAGE, "notebooks", "exercises")
TEACHER_ITEMS = (*STUDENT_ITEMS, "solutions")


# --------------------------------------------------------------------------- settings

def fail(name: str, value: str, valid: str) -> None:
    """Stop the hub with one line naming the setting, the value given and what is valid."""
    raise SystemExit(f"lecturekit hub: {name}={value!r} is not valid: {valid}")


def setting(name: str, default: str | None = None) -> str:
    """The environment variable ``name``, else ``default``; required when there is none."""
    value = os.environ.get(name, "") or default
    if value is None:
        fail(name, "", "set it (bash scripts/hub.sh makes one up)")
    return value


def port(name: str, default: int, ip: str = "127.0.0.1") -> int:
    """A port number from the environment variable ``name`` that nothing listens on at ``ip``."""
    value = setting(name, str(default))
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        fail(name, value, "a port number from 1 to 65535")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, int(value)))
        except OSError as error:
            fail(name, value, f"a free port ({error.strerror}: is a hub running already?)")
    return int(value)


def password(name: str, minimum: int) -> str:
    """A password of at least ``minimum`` characters from the environment variable ``name``."""
    value = setting(name)
    if len(value) < minimum:
        fail(name, "*" * len(value), f"a password of at least {minimum} characters")
    return value


def folder(name: str, default: Path) -> Path:
    """A folder from the environment variable ``name``, created if missing."""
    path = Path(setting(name, str(default))).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(name, str(path), f"a folder this user can create and write ({error.strerror})")
    return path


IP = setting("LECTUREKIT_HUB_IP", "127.0.0.1")
PORT = port("LECTUREKIT_HUB_PORT", 8000, IP)
STATE = folder("LECTUREKIT_HUB_STATE", CHECKOUT / ".hub" / "state")
EXCHANGE = folder("LECTUREKIT_HUB_EXCHANGE", STATE / "exchange")
COURSE = Path(setting("LECTUREKIT_HUB_COURSE", str(CHECKOUT))).resolve()
if not (COURSE / LANDING_PAGE).is_file():
    fail("LECTUREKIT_HUB_COURSE", str(COURSE), f"the course folder, the one with {LANDING_PAGE}")
MODEL = setting("LECTUREKIT_MODEL", "efficientnet-lite0")
if MODEL not in MODEL_NAMES:
    fail("LECTUREKIT_MODEL", MODEL, f"one of {', '.join(MODEL_NAMES)}")
TEACHER = setting("LECTUREKIT_HUB_TEACHER", "teacher")


# --------------------------------------------------------------------------- log-in
# DEPARTMENT: use the university's log-in instead, e.g. OAuthenticator's GenericOAuthenticator
# or LTI13Authenticator (from an LMS), and name the teachers in admin_users.

c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = password("LECTUREKIT_HUB_PASSWORD", 8)
c.SharedPasswordAuthenticator.admin_password = password("LECTUREKIT_HUB_TEACHER_PASSWORD", 32)
c.Authenticator.admin_users = {TEACHER}
c.Authenticator.allow_all = True  # any name with the students' password


# --------------------------------------------------------------------------- the hub

c.JupyterHub.ip = IP
c.JupyterHub.port = PORT
c.JupyterHub.hub_port = port("LECTUREKIT_HUB_API_PORT", PORT + 1)
c.ConfigurableHTTPProxy.api_url = \
    f"http://127.0.0.1:{port('LECTUREKIT_HUB_PROXY_API_PORT', PORT + 2)}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
# configurable-http-proxy from PATH, else the one scripts/hub.sh installs with npm
PROXY = shutil.which("configurable-http-proxy") or \
    CHECKOUT / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [str(PROXY)]


# --------------------------------------------------------------------------- the servers
# DEPARTMENT: start each server as the student's own system user (SystemdSpawner, with
# memory and CPU limits), in a container (DockerSpawner, with an image that has
# `pip install lecturekit[lab] nbgrader` and the course), or on Kubernetes with Zero to
# JupyterHub (KubeSpawner). Its Helm chart's values for this course:
#
#   singleuser:
#     image: {name: <REGISTRY>/lecturekit, tag: <VERSION>}   # the kit, nbgrader, the course
#     defaultUrl: /lab/tree/START_HERE.ipynb
#     extraEnv: {LECTUREKIT_MODEL: efficientnet-lite0, OMP_NUM_THREADS: "2"}
#     memory: {guarantee: 2.5Gi, limit: 3.5Gi}
#     cpu: {guarantee: 0.6, limit: 2}
#
# The numbers are per student, from run I of benchmarks/RESULTS.md (EfficientNet-Lite0): a
# server with one kernel peaks at 2547 MiB (notebook 02), the limit is 1.25 times that, and
# 24 students share a 16-core 64 GiB node, so each is guaranteed 0.6 of a core and may use
# 2. Homework on the toy needs 842 MiB (limit 1.5Gi); AlexNet's shape 1831 MiB (2.5Gi).
# OMP_NUM_THREADS: PyTorch starts one thread per core of the node, not of the limit; set it
# to the CPU limit so that a kernel does not fight itself for its share.
# With those spawners the home is the container's or the user's: copy the course there
# with their own hooks (or nbgitpuller), and put the exchange on a shared volume.

c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "homes" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]  # the hub's own Python
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []  # containers often run as root
# a kernel holds about a gigabyte with EfficientNet-Lite0 (benchmarks/RESULTS.md): shut down
# kernels idle for 20 minutes, so that a student who opened every notebook keeps one or two
c.Spawner.args += ["--MappingKernelManager.cull_idle_timeout=1200",
                   "--MappingKernelManager.cull_interval=120"]
c.Spawner.default_url = landing_url_path()
c.Spawner.http_timeout = 120  # seconds for a server to answer; a busy laptop is slow
c.Spawner.environment = {"LECTUREKIT_MODEL": MODEL}
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_ROOT", "CONDA_DEFAULT_ENV",
                      "LANG", "LC_ALL", "JUPYTERHUB_SINGLEUSER_APP", "LECTUREKIT_PROGRESS"]


# --------------------------------------------------------------------------- nbgrader

def write_config(name: str, lines: list[str]) -> Path:
    """A Jupyter configuration folder under the state folder with an nbgrader_config.py of
    ``lines``; its path."""
    path = STATE / "jupyter_config" / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "nbgrader_config.py").write_text("\n".join(["c = get_config()", *lines]) + "\n")
    return path


try:
    EXCHANGE.chmod(0o777)  # releases and submissions meet here: every user writes
except OSError as error:
    fail("LECTUREKIT_HUB_EXCHANGE", str(EXCHANGE), f"a folder this user owns ({error.strerror})")
SHARED = write_config("all", [f"c.Exchange.root = {str(EXCHANGE)!r}"])
# every server runs as one system user, so nbgrader would file each submission under that
# user's name: name the hub's user instead (the same as the system user's on a real hub)
STUDENTS = write_config("students", [
    "import os", "c.CourseDirectory.student_id = os.environ['JUPYTERHUB_USER']"])
TEACHERS = write_config("teacher", [
    f"c.CourseDirectory.root = {str(STATE / 'homes' / TEACHER / 'course')!r}",
    f"c.CourseDirectory.course_id = {COURSE_ID!r}",
    "c.Execute.timeout = 300  # seconds a cell may take when grading"])


# --------------------------------------------------------------------------- first start

def copy_missing(source: Path, home: Path, items: tuple[str, ...]) -> None:
    """Copy the files and folders ``items`` of ``source`` into ``home``, file by file, where a
    file is missing: what a user already has is never overwritten."""
    for item in items:
        path = source / item
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            target = home / file.relative_to(source)
            if file.is_file() and ".ipynb_checkpoints" not in file.parts and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)


def nbgrader_sources(home: Path) -> None:
    """The teacher's nbgrader course folder: course/source/<hwN>/ with each homework's
    solution notebook (an nbgrader source notebook), where missing."""
    for notebook in sorted((COURSE / "solutions").glob("*.ipynb")):
        target = home / "course" / "source" / notebook.stem.split("_")[0] / notebook.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(notebook, target)


def prepare_home(spawner) -> None:
    """pre_spawn_hook: the course into the user's home, and the Lab's configuration (the
    kit's student or teacher Lab, then this hub's nbgrader settings) into its environment."""
    home = Path(spawner.home_dir)
    teacher = spawner.user.name == TEACHER
    copy_missing(COURSE, home, TEACHER_ITEMS if teacher else STUDENT_ITEMS)
    if teacher:
        nbgrader_sources(home)
    ours = os.pathsep.join(str(path) for path in (TEACHERS if teacher else STUDENTS, SHARED))
    path = lab_environment(teacher, {"JUPYTER_CONFIG_PATH": ours})["JUPYTER_CONFIG_PATH"]
    spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": path}


c.Spawner.pre_spawn_hook = prepare_home


def announce() -> None:
    """Print the address and the passwords (for bash scripts/hub.sh, which asks for it)."""
    host = c.JupyterHub.ip if c.JupyterHub.ip != "0.0.0.0" else socket.gethostname()
    print(f"lecturekit hub: http://{host}:{PORT}/\n"
          f"  students: any user name, password {c.SharedPasswordAuthenticator.user_password}\n"
          f"  teacher:  user name {TEACHER}, password "
          f"{c.SharedPasswordAuthenticator.admin_password}\n"
          f"  homes, exchange and log-in database in {STATE} "
          f"(Ctrl+C stops the hub and every server)", file=sys.stderr, flush=True)


if os.environ.get("LECTUREKIT_HUB_ANNOUNCE") == "1":
    announce()
