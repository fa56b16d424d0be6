"""The layer and function Makefiles `sam build` runs (BuildMethod: makefile), run the way SAM runs
them: `make --makefile <file> build-<LogicalId>` in a scratch copy of the folder, ARTIFACTS_DIR set.
The layer's pip step is replaced by a stand-in, so these stay fast and need no network; the last
test inspects the real `make build` output when there is one."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.template.conftest import REPO_ROOT

PY313 = sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13")) or (
    [Path(p)] if (p := shutil.which("python3.13")) else []
)
BUILT_LAYER = REPO_ROOT / ".aws-sam" / "build" / "SharedLayer" / "python"
# Importable name, distribution name: the Lambda runtime ships them with boto3.
RUNTIME_PROVIDED = [
    ("boto3", "boto3"),
    ("botocore", "botocore"),
    ("s3transfer", "s3transfer"),
    ("urllib3", "urllib3"),
    ("dateutil", "python_dateutil"),
]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")
FUNCTIONS = sorted(
    f"{folder.name.capitalize()}Function" for folder in (REPO_ROOT / "functions").iterdir()
)
# What the template gives every function (values as on AWS, names as settings reads them).
LAMBDA_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "TABLE_NAME": "scim-DirectoryTable-1A2B3C",
    "TOKEN_SECRET_PREFIX": "scim/orgs/",
    "EVENT_BUS_NAME": "scim-directory",
    "FANOUT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/scim-FanoutQueue",
    "POWERTOOLS_SERVICE_NAME": "scim-build-check",
}


def run_make(makefile: Path, target: str, cwd: Path, artifacts: Path, **env: str) -> str:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        ["make", "--makefile", str(makefile), target],  # noqa: S607 - make from PATH, as SAM does
        cwd=cwd,
        env={**os.environ, "ARTIFACTS_DIR": str(artifacts), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def scratch_copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "scratch" / folder.name
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    return copy


@pytest.mark.parametrize(
    ("folder", "logical_id"),
    [
        ("functions/authorizer", "AuthorizerFunction"),
        ("functions/users", "UsersFunction"),
        ("functions/discovery", "DiscoveryFunction"),
        ("functions/groups", "GroupsFunction"),
        ("functions/purge", "PurgeFunction"),
    ],
)
def test_function_build_ships_its_handler(tmp_path: Path, folder: str, logical_id: str) -> None:
    source = REPO_ROOT / folder
    copy = scratch_copy(source, tmp_path)
    artifacts = tmp_path / "artifacts"
    run_make(copy / "Makefile", f"build-{logical_id}", copy, artifacts)
    assert (artifacts / "app.py").read_bytes() == (source / "app.py").read_bytes()
    # A handler is a few lines: compiling it at INIT costs nothing measurable, unlike the layer.
    assert [p.name for p in artifacts.iterdir()] == ["app.py"]


FAKE_PYTHON = """\
#!{python}
# Stands in for the layer Makefile's $(PYTHON): runs `-c` for real, fakes `-m pip install`.
import json, os, pathlib, subprocess, sys

args = sys.argv[1:]
if args[:2] != ["-m", "pip"]:
    sys.exit(subprocess.call([{python!r}, *args]))
target = pathlib.Path(args[args.index("--target") + 1])
requirements = pathlib.Path(args[args.index("-r") + 1]).read_text().split()
log = {{"args": args, "requirements": requirements}}
pathlib.Path(os.environ["FAKE_PIP_LOG"]).write_text(json.dumps(log))
dists = {{"pydantic": "pydantic", "pydantic_core": "pydantic_core", "boto3": "boto3",
         "botocore": "botocore", "s3transfer": "s3transfer", "urllib3": "urllib3",
         "dateutil": "python_dateutil"}}
for package, dist in dists.items():
    (target / package).mkdir(parents=True)
    (target / package / "__init__.py").write_text("")
    (target / f"{{dist}}-1.0.dist-info").mkdir()
(target / "six.py").write_text("")
(target / "six-1.0.dist-info").mkdir()
(target / "bin").mkdir()
(target / "bin" / "some-cli").write_text("")
"""


@pytest.fixture
def layer_build(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """Runs build-SharedLayer on a scratch copy of layers/shared, with a planted `local/` and stale
    3.11 bytecode that must not reach the layer; returns the layer's python/ and pip's call."""
    copy = scratch_copy(REPO_ROOT / "layers" / "shared", tmp_path)
    package = copy / "provisioning"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").touch()
    (package / "local").mkdir(exist_ok=True)
    (package / "local" / "__init__.py").write_text("raise ImportError('local stack only')\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"stale")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "pip.json"
    artifacts = tmp_path / "artifacts"
    run_make(
        copy / "Makefile",
        "build-SharedLayer",
        copy,
        artifacts,
        PYTHON=str(fake),
        FAKE_PIP_LOG=str(log),
    )
    return artifacts / "python", json.loads(log.read_text())


def test_layer_installs_the_pyproject_dependencies_for_lambda_arm64_py313(
    layer_build: tuple[Path, dict[str, object]],
) -> None:
    site, pip = layer_build
    args = pip["args"]
    assert isinstance(args, list)
    pyproject = tomllib.loads((REPO_ROOT / "layers/shared/pyproject.toml").read_text())
    assert pip["requirements"] == pyproject["project"]["dependencies"]
    joined = " ".join(args)
    assert "--platform manylinux2014_aarch64" in joined
    assert "--only-binary=:all:" in args
    assert "--implementation cp" in joined
    assert "--python-version 3.13" in joined
    assert args[args.index("--target") + 1] == str(site)
    assert "--no-compile" in args, "pip would byte-compile with the wrong interpreter"


def test_layer_ships_provisioning_without_local_or_runtime_provided_packages(
    layer_build: tuple[Path, dict[str, object]],
) -> None:
    site, _ = layer_build
    assert (site / "provisioning" / "__init__.py").is_file()
    assert (site / "pydantic" / "__init__.py").is_file()
    assert not (site / "provisioning" / "local").exists()
    for package, dist in RUNTIME_PROVIDED:
        assert not (site / package).exists(), package
        assert not list(site.glob(f"{dist}-*.dist-info")), dist
    assert (site / "pydantic-1.0.dist-info").is_dir()
    assert not (site / "six.py").exists()
    assert not list(site.glob("six-*.dist-info"))
    assert not (site / "bin").exists()
    assert not list(site.rglob("*.egg-info"))


def test_layer_bytecode_is_for_python313_only(
    layer_build: tuple[Path, dict[str, object]],
) -> None:
    site, _ = layer_build
    compiled = {p.name for p in site.rglob("*.pyc")}
    assert all(".cpython-313." in name for name in compiled), compiled
    if PY313:
        assert "__init__.cpython-313.pyc" in compiled


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


@pytest.fixture(scope="module")
def built_layer() -> Path:
    """The last `make build`'s layer. `make test` builds first and sets SCIM_REQUIRE_BUILD, so
    there a missing build fails; a bare `pytest` without a build skips these checks."""
    if not BUILT_LAYER.is_dir():
        if os.environ.get("SCIM_REQUIRE_BUILD") == "1":
            pytest.fail("no .aws-sam build although `make test` builds first")
        pytest.skip("no .aws-sam build (run `make build`)")
    return BUILT_LAYER


def test_built_layer_is_for_lambda_arm64_py313(built_layer: Path) -> None:
    """Checks the output of the last `make build`: the real wheels, not the stand-in."""
    assert (BUILT_LAYER / "provisioning" / "__init__.py").is_file()
    assert not (BUILT_LAYER / "provisioning" / "local").exists()
    assert not (BUILT_LAYER / "boto3").exists()
    assert not (BUILT_LAYER / "botocore").exists()
    extensions = list(BUILT_LAYER.glob("pydantic_core/_pydantic_core.*.so"))
    assert [p.name for p in extensions] == ["_pydantic_core.cpython-313-aarch64-linux-gnu.so"]
    aarch64 = 183  # EM_AARCH64
    for extension in BUILT_LAYER.rglob("*.so"):
        assert _elf_machine(extension) == aarch64, extension
    size = sum(p.stat().st_size for p in BUILT_LAYER.rglob("*") if p.is_file())
    assert size < 100 * 1024 * 1024, f"{size / 2**20:.0f} MiB unzipped (Lambda allows 250 in all)"


def _native_distributions(site: Path) -> list[str]:
    """`name==version` of every distribution in `site` that ships a compiled extension."""
    found = []
    for record in sorted(site.glob("*.dist-info/RECORD")):
        if any(line.split(",")[0].endswith(".so") for line in record.read_text().splitlines()):
            fields = dict(
                line.split(": ", 1)
                for line in (record.parent / "METADATA").read_text().splitlines()
                if ": " in line
            )
            found.append(f"{fields['Name']}=={fields['Version']}")
    return found


@pytest.fixture(scope="module")
def host_runtime(built_layer: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """What Lambda's python3.13 adds to the layer, for this machine: the runtime's boto3 (pure
    Python, taken from the dev venv), and this machine's builds of the layer's native wheels
    (the layer's are aarch64, which cannot load here; their versions are the layer's)."""
    if not PY313:
        pytest.fail("no Python 3.13 to import the built handlers with (pyenv has one here)")
    native = tmp_path_factory.mktemp("native")
    subprocess.run(  # noqa: S603 - pip of our own interpreter, pinned to the layer's versions
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            "3.13",
            "--target",
            str(native),
            *_native_distributions(built_layer),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    runtime = tmp_path_factory.mktemp("runtime")
    for name, _ in [*RUNTIME_PROVIDED, ("six", "six")]:
        module = __import__(name)
        source = Path(module.__file__)
        origin = source.parent if source.name == "__init__.py" else source
        (runtime / origin.name).symlink_to(origin)
    return [native, runtime]


_IMPORT_PROBE = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
import app
assert callable(app.handler)
origins = {name: getattr(module, "__file__", None) or "" for name, module in sys.modules.items()}
print(json.dumps(origins))
"""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_built_handler_imports_from_the_build_folder(
    built_layer: Path, host_runtime: list[Path], function: str
) -> None:
    """Python 3.13, isolated from every site-packages, imports the built handler with only the
    build folder, the layer and the runtime's own packages on its path, as Lambda does."""
    native, runtime = host_runtime
    function_dir = built_layer.parents[1] / function
    path = [str(native), str(function_dir), str(built_layer), str(runtime)]
    completed = subprocess.run(  # noqa: S603 - the pyenv interpreter on our own build
        [str(PY313[0]), "-I", "-S", "-c", _IMPORT_PROBE, json.dumps(path)],
        cwd=function_dir,
        env={"PATH": os.environ.get("PATH", ""), **LAMBDA_ENVIRONMENT},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    origins = json.loads(completed.stdout)
    assert origins["app"] == str(function_dir / "app.py")
    assert origins["provisioning"].startswith(str(built_layer / "provisioning"))
    stdlib = str(Path(str(PY313[0])).resolve().parents[1])
    for name, origin in origins.items():
        if origin:
            assert origin.startswith((*path, stdlib)) or origin.startswith(
                tuple(str(Path(p).resolve()) for p in path)
            ), f"{name} came from {origin}"
